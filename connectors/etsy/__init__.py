"""etsy connector: built in the connectors issue."""
