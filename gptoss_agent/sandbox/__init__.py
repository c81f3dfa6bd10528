"""Running untrusted code: Docker session lifecycle, the in-container kernel, limits, images.

Knows nothing about agents, tools or Harmony.
"""
