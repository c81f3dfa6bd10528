"""``finetune`` on a tiny GptOss: LoRA learns and its adapter loads, full fine-tuning
resumes exactly, the restricted vocabulary is safe at decode time."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.errors import FinetuneError
from tests.agent.finetune.conftest import need_torch


def _config(data: Path, model: Path, output: Path, **changes: Any) -> FinetuneConfig:
    base = FinetuneConfig(data=(data,), model=model, output=output, steps=6, batch_size=8,
                          learning_rate=1e-2, warmup_steps=1, seed=5, heldout_fraction=0.1,
                          checkpoint_every=3, threads=1)
    return replace(base, **changes)


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_lora_loss_decreases_and_the_adapter_loads(
    conversations_file: Path, tiny_init: Path, tmp_path: Path
) -> None:
    need_torch()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from gptoss_agent.agent.finetune.trainer import finetune

    # LoRA adapts a model that already knows something (a random network's tiny output
    # rows leave attention adapters little to move), as with gpt-oss: first a short full
    # fine-tune gives the base, then adapters continue from it.
    base_dir = tmp_path / "base"
    finetune(_config(conversations_file, tiny_init, base_dir, steps=8, restrict_vocab=True),
             progress=False)
    config = _config(conversations_file, base_dir, tmp_path / "lora", method="lora",
                     steps=16, learning_rate=2e-2, lora_rank=8)
    report = finetune(config, progress=False)
    assert report.adapter and report.method == "lora"
    assert report.last_loss < report.first_loss - 0.2, report
    assert report.heldout is not None and report.heldout.examples == 4
    assert (config.output / "adapter_config.json").exists()
    assert json.loads((config.output / "finetune_report.json").read_text())["steps"] == 16

    from gptoss_agent.agent.backends.transformers.backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    backend = TransformersBackend.load(
        TransformersBackendConfig(model=str(config.output), device="cpu", dtype="float32"))
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    ids = torch.tensor([[200006, 1428, 200008, 13225, 200007, 200006, 173781]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(base, config.output)(input_ids=ids).logits
        loaded = backend.model(input_ids=ids).logits
    assert not torch.allclose(plain, adapted)
    torch.testing.assert_close(loaded, adapted)
    asyncio.run(backend.aclose())


def test_full_finetune_resumes_to_the_same_weights(
    conversations_file: Path, tiny_init: Path, tmp_path: Path
) -> None:
    need_torch()
    from gptoss_agent.agent.finetune.trainer import finetune

    straight = _config(conversations_file, tiny_init, tmp_path / "straight",
                       restrict_vocab=True)
    finetune(straight, progress=False)

    interrupted = replace(straight, output=tmp_path / "resumed")

    def stop(step: int, loss: float) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(interrupted, progress=False, on_step=stop)
    assert (interrupted.output / "checkpoints" / "step-0000003" / "state.json").exists()
    report = finetune(interrupted, progress=False)
    assert report.resumed_from == 3 and report.steps == 6
    a, b = _weights(straight.output), _weights(interrupted.output)
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), name


def test_resume_with_other_settings_is_refused(
    conversations_file: Path, tiny_init: Path, tmp_path: Path
) -> None:
    need_torch()
    from gptoss_agent.agent.finetune.trainer import finetune

    config = _config(conversations_file, tiny_init, tmp_path / "out", steps=3,
                     restrict_vocab=True)
    finetune(config, progress=False)
    with pytest.raises(FinetuneError, match="learning_rate"):
        finetune(replace(config, learning_rate=1e-3, steps=4), progress=False)
    longer = finetune(replace(config, steps=4), progress=False)
    assert longer.resumed_from == 3


def test_restricted_vocabulary_never_decodes_an_untrained_token(
    conversations_file: Path, tiny_init: Path, tmp_path: Path
) -> None:
    need_torch()
    import torch
    from transformers import AutoModelForCausalLM

    from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab
    from gptoss_agent.agent.finetune.trainer import finetune

    config = _config(conversations_file, tiny_init, tmp_path / "out", steps=4,
                     restrict_vocab=True)
    report = finetune(config, progress=False)
    vocab = RestrictedVocab.load(config.output)
    assert vocab is not None and report.vocab_size == len(vocab.ids) < 200
    model = AutoModelForCausalLM.from_pretrained(config.output, dtype=torch.float32)
    assert model.config.vocab_size == 201_088
    allowed = torch.zeros(201_088, dtype=torch.bool)
    allowed[list(vocab.ids)] = True
    head = model.lm_head.weight
    hidden = torch.randn(4096, head.shape[1], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        winners = (hidden @ head.T).argmax(dim=-1)
    assert allowed[winners].all()
    trained_logits = hidden @ head[list(vocab.ids)].T
    untrained = hidden @ head[0]  # id 0 ("!") does not occur in the data
    assert not allowed[0]
    torch.testing.assert_close(untrained, trained_logits.mean(dim=-1), rtol=1e-4, atol=1e-4)


def test_shared_prefix_loss_equals_the_plain_loss(
    conversations_file: Path, tiny_init: Path
) -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.finetune.batching import collate
    from gptoss_agent.agent.finetune.data import load_examples
    from gptoss_agent.agent.finetune.loss import masked_loss, shared_prefix
    from gptoss_agent.agent.finetune.trainer import load_model

    model = load_model(tiny_init)
    batch = collate(load_examples([conversations_file])[:6], 199_999)
    assert shared_prefix(batch) >= 16
    results = []
    for share in (False, True):
        model.zero_grad()
        loss, figures = masked_loss(model, batch, share_prefix=share)
        loss.backward()
        grad = model.model.layers[0].self_attn.q_proj.weight.grad
        assert grad is not None
        results.append((loss.detach(), grad.clone(), figures))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


@pytest.mark.parametrize("tied", [False, True])
def test_compact_then_expand_keeps_the_trained_rows(tmp_path: Path, tied: bool) -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.tiny import TinyModelSpec, build_tiny_model
    from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab, expand_model
    from gptoss_agent.agent.finetune.trainer import load_model
    from gptoss_agent.agent.finetune.vocab import compact_model

    folder = build_tiny_model(tmp_path / "m", seed=3,
                              spec=TinyModelSpec(extra={"tie_word_embeddings": tied}))
    full = load_model(folder)
    ids = (5, 17, 200002, 200006, 200008, 200012)
    vocab = RestrictedVocab(ids, 201_088)
    small = compact_model(full, vocab)
    assert small.config.vocab_size == len(ids)
    assert (small.lm_head.weight is small.model.embed_tokens.weight) == tied
    back = expand_model(small, vocab, pad_token_id=199_999, eos_token_id=[200002, 200012])
    assert (back.lm_head.weight is back.model.embed_tokens.weight) == tied
    tokens = torch.tensor([[200006, 5, 200008, 17, 5]])
    compact_tokens = torch.tensor([[ids.index(t) for t in tokens[0].tolist()]])
    with torch.no_grad():
        reference = full(input_ids=tokens).logits[0, :, list(ids)]
        torch.testing.assert_close(small(input_ids=compact_tokens).logits[0], reference)
        torch.testing.assert_close(back(input_ids=tokens).logits[0, :, list(ids)], reference)
