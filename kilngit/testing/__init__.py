"""Internal: loopback fakes of provider wire protocols (OpenAI, Tinker, Fireworks, Together), for kilngit's own
tests, benchmarks and demos. Not part of kilngit's public API: nothing else in kilngit imports them, and their
options may change without notice.

Start one from the command line to try kilngit without an API key (see docs/providers.md):

    python -m kilngit.testing.fake_openai --port 8011
"""
