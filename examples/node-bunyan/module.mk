# examples/node-bunyan: the Node.js demo (scripts/demo-node), also run at the
# end of `make demo`. Its setup installs bunyan 2.0.5 from the npm registry
# into $(BUILD)/examples/node-bunyan.
.PHONY: demo-node
demo-node: deps all node
	BUILD=$(BUILD) scripts/demo-node
