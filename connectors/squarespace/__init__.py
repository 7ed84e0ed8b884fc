"""squarespace connector: built in the connectors issue."""
