"""gptoss-agent: a Harmony-native agent framework for OpenAI's open-weight gpt-oss models."""

__version__ = "0.1.0"
