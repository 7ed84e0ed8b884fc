"""wix connector: built in the connectors issue."""
