// LlamaModel module
