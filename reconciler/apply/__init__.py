"""Apply: the one workflow, options and report, the engines (apply's and upload's), verification of outputs, adopt."""
