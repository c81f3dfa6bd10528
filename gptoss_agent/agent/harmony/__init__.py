"""The Harmony format: vocabulary, codec, prompt and schema rendering, history, parsing.

The only package that imports ``openai_harmony``. Everything above it (the run, backends,
tasks) speaks in token ids, :class:`~.parser.ParsedMessage` values and rendered texts.
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {
    "HarmonyCodec": "gptoss_agent.agent.harmony.codec",
    "load_codec": "gptoss_agent.agent.harmony.codec",
    "Conversation": "gptoss_agent.agent.harmony.conversation",
    "AnalysisPolicy": "gptoss_agent.agent.harmony.conversation",
    "CompletionParser": "gptoss_agent.agent.harmony.parser",
    "ParsedMessage": "gptoss_agent.agent.harmony.parser",
    "parse_completion": "gptoss_agent.agent.harmony.parser",
    "SystemSettings": "gptoss_agent.agent.harmony.prompt",
    "ResponseFormat": "gptoss_agent.agent.harmony.prompt",
    "HarmonyError": "gptoss_agent.agent.harmony.errors",
    "VocabularyError": "gptoss_agent.agent.harmony.vocab",
    "ensure_vocabulary": "gptoss_agent.agent.harmony.vocab",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
