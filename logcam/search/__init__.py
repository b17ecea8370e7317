"""SACoD-style co-search of the optical front-end and the network over the accelerator's operators
(docs/search.md): config, search space and costs, supernet, bilevel loop, export."""
