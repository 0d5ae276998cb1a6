"""The cosrecon Pulumi program (Pulumi.yaml's ``main``): one ``ProcessingSet`` resource per declaration file.

Pulumi runs this folder with it as the working directory, and its dynamic-provider host too, so the sibling modules
(``cosrecon_stack``, ``cosrecon_provider``, ``cosrecon_engine``) are imported as top-level modules here and there.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pulumi  # noqa: E402

from cosrecon_stack import define_stack, settings_from_config  # noqa: E402

define_stack(settings_from_config(pulumi.Config("cosrecon")))
