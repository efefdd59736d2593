"""RegLab's API side: spec, store, REST API and live stream. Never imports TensorFlow."""
