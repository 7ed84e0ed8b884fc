"""woocommerce connector: built in the connectors issue."""
