"""LoRA fine-tuning with a plain torch loop, resumable from checkpoints.

Rows are conversations (``{"messages": [...]}`` JSONL). Each epoch visits
them in the order :func:`qiao.workshop.data.shuffle_for_epoch` gives, in
micro-batches of ``batch_size`` padded to their longest row, with
``grad_accum`` micro-batches per optimizer step. The loss is the mean over
assistant tokens of a step, and logits are computed only at those positions,
which saves most of the vocabulary projection (151,936 outputs for Qwen2.5).
The learning rate warms up linearly and then decays linearly to zero.

Optimizer step ``s`` always sees the same rows and dropout (the torch seed
is ``seed`` and ``s``), so a run resumed from the checkpoint at step ``s``
continues the schedule where it stopped. Out-of-memory and full-disk errors
stop with a message that names the last checkpoint, which is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, ModelError
from qiao.optional import require
from qiao.workshop.chat_format import IGNORE_INDEX, EncodedConversation, encode_conversation
from qiao.workshop.checkpoints import (
    latest_checkpoint,
    load_optimizer_state,
    save_checkpoint,
    storage_error,
)
from qiao.workshop.data import shuffle_for_epoch
from qiao.workshop.data.jsonl import read_conversations
from qiao.workshop.train_setup import TrainSettings, load_for_training

__all__ = ["TrainProgress", "TrainSettings", "train_lora"]

logger = logging.getLogger(__name__)

# Called with (optimizer steps done, total steps, loss of the last step or None).
TrainProgress = Callable[[int, int, float | None], None]


def train_lora(
    base_dir: Path,
    train_file: Path,
    out_dir: Path,
    settings: TrainSettings | None = None,
    progress: TrainProgress | None = None,
    *,
    checkpoint_dir: Path | None = None,
) -> dict[str, Any]:
    """Fine-tune a LoRA adapter on ``train_file`` and save it into ``out_dir``.

    Checkpoints go to ``checkpoint_dir`` (default: ``checkpoints`` beside
    ``out_dir``); an existing one made from the same data and settings is
    resumed. Returns the training summary, also written to
    ``out_dir/trainer_state.json``.
    """
    settings = settings or TrainSettings()
    settings.check()
    torch = require("torch", "workshop")
    torch.set_num_threads(settings.threads)
    checkpoint_dir = checkpoint_dir or Path(out_dir).parent / "checkpoints"
    started = time.perf_counter()

    rows = read_conversations(Path(train_file))
    model, tokenizer, device, dtype_name = load_for_training(Path(base_dir), settings)
    examples, truncated = _encode_rows(tokenizer, rows, settings.max_length)
    if not examples:
        raise InvalidInputError(
            f"no row of {train_file} has assistant tokens within max_length"
            f" {settings.max_length}; raise max_length",
            key="ws_no_trainable_rows",
            value=str(train_file),
        )
    steps_per_epoch = math.ceil(len(examples) / (settings.batch_size * settings.grad_accum))
    total_steps = steps_per_epoch * settings.epochs
    if settings.max_steps is not None:
        total_steps = min(total_steps, settings.max_steps)
    fingerprint = {"data_sha256": _sha256(Path(train_file)), **settings.schedule_fields()}

    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=0.0)
    checkpoint = latest_checkpoint(checkpoint_dir, fingerprint)
    start_step, losses = 0, []
    if checkpoint is not None:
        peft = require("peft", "workshop")
        safetensors = require("safetensors.torch", "workshop", "safetensors")
        weights = safetensors.load_file(str(checkpoint.folder / "adapter_model.safetensors"))
        peft.set_peft_model_state_dict(model, weights)
        load_optimizer_state(checkpoint, optimizer)
        start_step, losses = checkpoint.step, list(checkpoint.state["losses"])
        logger.info("resuming from %s", checkpoint.folder)

    model.train()
    if progress is not None:
        progress(start_step, total_steps, losses[-1] if losses else None)
    trained_tokens = 0
    step = saved_step = start_step
    try:
        for step in range(start_step + 1, total_steps + 1):
            batches = _step_batches(examples, step, steps_per_epoch, settings)
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(step, total_steps, settings)
            torch.manual_seed(settings.seed * 1_000_003 + step)
            loss, tokens = _optimizer_step(model, optimizer, batches, tokenizer, device)
            losses.append(round(loss, 5))
            trained_tokens += tokens
            if progress is not None:
                progress(step, total_steps, loss)
            if step % settings.checkpoint_every == 0 and step < total_steps:
                state = {"step": step, "losses": losses, "fingerprint": fingerprint}
                save_checkpoint(checkpoint_dir, model, optimizer, state, settings.keep_checkpoints)
                saved_step = step
    except (MemoryError, RuntimeError) as error:
        # NOTE: no test triggers a real out-of-memory error; the message text is matched.
        if isinstance(error, RuntimeError) and not _is_out_of_memory(error):
            raise
        raise _out_of_memory_error(error, step, saved_step, checkpoint_dir, settings) from error

    summary = {
        "adapter": str(out_dir),
        "base": str(base_dir),
        "train_file": str(train_file),
        "rows": len(rows),
        "trained_rows": len(examples),
        "truncated_rows": truncated,
        "steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "resumed_from_step": start_step or None,
        "trained_tokens_this_run": trained_tokens,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "losses": losses,
        "device": device,
        "dtype": dtype_name,
        "seconds_this_run": round(time.perf_counter() - started, 2),
        "settings": {**settings.schedule_fields(), "threads": settings.threads},
    }
    _save_adapter(model, Path(out_dir), summary)
    logger.info("trained %d steps in %.1f s", total_steps - start_step, summary["seconds_this_run"])
    return summary


def _encode_rows(
    tokenizer: Any, rows: list[dict[str, Any]], max_length: int
) -> tuple[list[EncodedConversation], int]:
    examples, truncated = [], 0
    for row in rows:
        encoded = encode_conversation(tokenizer, row["messages"], max_length)
        truncated += encoded.truncated
        # A row cut before its first assistant token teaches nothing.
        if encoded.trained_tokens:
            examples.append(encoded)
    return examples, truncated


def _step_batches(
    examples: list[EncodedConversation], step: int, steps_per_epoch: int, settings: TrainSettings
) -> list[list[EncodedConversation]]:
    """Return the micro-batches of optimizer step ``step`` (counted from 1)."""
    epoch, index_in_epoch = divmod(step - 1, steps_per_epoch)
    order = shuffle_for_epoch(examples, epoch, settings.seed)
    rows_per_step = settings.batch_size * settings.grad_accum
    chosen = order[index_in_epoch * rows_per_step : (index_in_epoch + 1) * rows_per_step]
    return [
        chosen[start : start + settings.batch_size]
        for start in range(0, len(chosen), settings.batch_size)
    ]


def _learning_rate(step: int, total_steps: int, settings: TrainSettings) -> float:
    warmup = min(settings.warmup_steps, max(total_steps - 1, 0))
    if warmup and step <= warmup:
        return settings.learning_rate * step / warmup
    remaining = max(total_steps - warmup, 1)
    return settings.learning_rate * max(total_steps - step + 1, 0) / remaining


def _optimizer_step(
    model: Any,
    optimizer: Any,
    batches: list[list[EncodedConversation]],
    tokenizer: Any,
    device: str,
) -> tuple[float, int]:
    """Accumulate gradients over ``batches``, step the optimizer; return (mean loss, tokens)."""
    torch = require("torch", "workshop")
    step_tokens = sum(example.trained_tokens for batch in batches for example in batch)
    total_loss = 0.0
    for batch in batches:
        input_ids, attention_mask, labels = _collate(batch, tokenizer, torch, device)
        loss_sum = _token_loss_sum(model, input_ids, attention_mask, labels, torch)
        (loss_sum / step_tokens).backward()
        total_loss += loss_sum.item()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total_loss / step_tokens, step_tokens


def _collate(batch: list[EncodedConversation], tokenizer: Any, torch: Any, device: str):
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    width = max(len(example.input_ids) for example in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(batch):
        length = len(example.input_ids)
        input_ids[row, :length] = torch.tensor(example.input_ids)
        attention_mask[row, :length] = 1
        labels[row, :length] = torch.tensor(example.labels)
    return input_ids.to(device), attention_mask.to(device), labels.to(device)


def _token_loss_sum(model: Any, input_ids, attention_mask, labels, torch: Any):
    """Return the summed cross-entropy of the labelled tokens.

    Position ``t`` predicts token ``t + 1``; only positions whose next token
    has a label go through the output projection.
    """
    base = model.get_base_model()
    hidden = base.get_decoder()(input_ids=input_ids, attention_mask=attention_mask)[0]
    targets = labels[:, 1:]
    selected = targets != IGNORE_INDEX
    logits = base.get_output_embeddings()(hidden[:, :-1][selected]).float()
    return torch.nn.functional.cross_entropy(logits, targets[selected], reduction="sum")


def _is_out_of_memory(error: RuntimeError) -> bool:
    text = str(error).lower()
    return "out of memory" in text or "can't allocate memory" in text


def _out_of_memory_error(
    error: BaseException, step: int, saved: int, folder: Path, settings: TrainSettings
) -> ModelError:
    kept = (
        f"checkpoint step-{saved} in {folder} is kept" if saved else "no checkpoint was saved yet"
    )
    return ModelError(
        f"training ran out of memory at step {step} ({error}); {kept}. Lower batch_size"
        f" (now {settings.batch_size}) or max_length (now {settings.max_length}) and run again;"
        " a changed setting starts training over, so delete the checkpoints or use --restart",
        key="ws_train_oom",
        step=step,
        kept=kept,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
    )


def _save_adapter(model: Any, out_dir: Path, summary: dict[str, Any]) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        (out_dir / "trainer_state.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    except OSError as error:
        raise storage_error(error, out_dir) from error


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
