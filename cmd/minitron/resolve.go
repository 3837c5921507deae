package main

import "github.com/minitron-go/minitron/hub"

// resolveModel turns the value of a -model flag into a model directory: an existing path as
// given, or a Hugging Face id (ORG/NAME[@REVISION]) found in the local Hugging Face cache, where
// `minitron pull` and huggingface-cli put models. When the model is in neither place the error
// lists where it looked and says how to download it.
func resolveModel(arg string) (string, error) {
	return hub.Resolve(arg)
}
