"""The only room that touches Textual's private internals.

Each module here says which internal it relies on and why; ``tests/test_textual_patches.py``
fails when the pinned Textual changes underneath one of them, and a layer test checks that
no other module of ``opsconsole`` imports ``textual._*`` or reaches into Textual's private
attributes.
"""
