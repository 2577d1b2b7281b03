"""mdepack: Microsoft Defender for Endpoint machine actions for SOAR playbooks and triggers.

The public entry point is :func:`mdepack.invoke.invoke`; the CLI, the serverless triggers and the
playbook runner all call it.
"""

__version__ = "0.1.0"
