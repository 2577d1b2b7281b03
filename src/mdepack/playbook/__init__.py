"""Playbooks: YAML steps that chain actions, a static checker, and a runner."""
