"""bigcommerce connector: built in the connectors issue."""
