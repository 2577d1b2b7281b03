"""Serverless entry points: AWS Lambda (`mdepack.triggers.aws_lambda.handler`) and Azure
Functions (`mdepack.triggers.azure_functions.app`). Both are thin adapters around
:func:`mdepack.triggers.http.respond`, which runs any action or shipped playbook through `invoke`."""
