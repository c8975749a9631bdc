"""The embedded demo: a real miniature of seed 002's Iceberg pipeline.

The engine (:mod:`opsconsole.demo.engine`) runs in its own process and does real
work on local components; the console watches it through
:class:`opsconsole.drivers.demo.DemoDriver` exactly as it would watch a remote
platform. Nothing the demo shows is simulated at the display layer.
"""
