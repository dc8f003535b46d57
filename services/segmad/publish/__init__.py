"""Publishing models to TorchServe: `segmad models publish|add|list|set-default` and the service functions behind them."""
