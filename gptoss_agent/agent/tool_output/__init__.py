"""Tool results on their way to the model: made encodable, then bounded to a token budget.

:mod:`.safe_text` escapes text that cannot be encoded (lone surrogates) and says so;
:mod:`.cut` cuts a long text at line boundaries around a marker; :mod:`.bounding` is the
step dispatch runs on every result (which budget, where the full text is kept).
"""

from gptoss_agent.agent.tool_output.bounding import bound_result, full_text_at, output_store
from gptoss_agent.agent.tool_output.cut import Cut, cut_text
from gptoss_agent.agent.tool_output.safe_text import safe_result, safe_text

__all__ = ["Cut", "bound_result", "cut_text", "full_text_at", "output_store", "safe_result",
           "safe_text"]
