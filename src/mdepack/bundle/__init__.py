"""Deployable artefacts: the pack and its dependencies, built for the serverless platform's own
Python and processor, so a deploy needs nothing from a package index.

    mdepack bundle lambda --output mdepack-lambda.zip [--python 3.12] [--arch x86_64|arm64]
    mdepack bundle azure-functions --output DIR [--python 3.12]
"""
