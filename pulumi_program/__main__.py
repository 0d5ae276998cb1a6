"""The cosrecon Pulumi program (Pulumi.yaml's ``main``): read the stack config, declare one ``ProcessingSet`` per
declaration file. Everything else lives in the installed package (``reconciler.pulumi``), so the provider Pulumi
pickles is importable whatever folder its host runs in; this program only knows where the project folder is.
"""

from pathlib import Path

import pulumi

from reconciler.pulumi.stack import define_stack, settings_from_config

PROJECT = Path(__file__).resolve().parent.parent  # the folder that holds Pulumi.yaml

define_stack(settings_from_config(pulumi.Config("cosrecon"), PROJECT), PROJECT)
