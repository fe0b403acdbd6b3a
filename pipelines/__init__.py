"""tts-ci pipeline steps as plain Python (no Dagger import): commands as data, probes, auth."""
