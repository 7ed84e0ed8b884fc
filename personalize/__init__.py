"""The `personalize` command line: starts each deployable and runs the merchant's and operator's commands.
The one package that imports services; the plumbing they share is `plumbing`."""
