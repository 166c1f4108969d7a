"""Turn an agent's ``model`` string into a pydantic-ai ``Model``.

``resolve_model("openai:gpt-4o", settings.providers)`` returns a :class:`ResolvedModel`: the
model, the name of the model that will actually run, whether it is the offline test model, and
a note saying why when the offline model stood in for a real one.

Model strings:

- ``PROVIDER:MODEL`` for ``openai``, ``anthropic``, ``google`` (alias ``google-gla``), ``groq``,
  ``mistral``, ``deepseek``, ``together``: the key comes from settings, else the provider's usual
  environment variable. ``openai`` talks to ``settings.openai_base_url`` when it is set (any
  OpenAI-compatible server; a key is then optional). OpenAI and OpenAI-compatible servers are
  spoken to with the Chat Completions API, which every compatible server implements.
- ``ollama:MODEL``: Ollama's OpenAI-compatible API at ``settings.ollama_base_url``; no key.
- ``NAME:MODEL`` for any ``NAME`` in ``settings.compatible``: that OpenAI-compatible server. A
  name configured there wins over a built-in provider of the same name.
- ``test``, ``test:echo``, ``test:sleep-<ms>``, ``test:tools``: the offline model (see
  :mod:`agentrun.runtime.offline`); ``test:<name>`` registered with
  :func:`register_test_model` (in-process tests only).

With no key for a provider and ``offline_fallback`` on, the offline model runs instead and the
result says so; with it off, resolution fails with a ``validation_error``.

Keys are read here and handed to the provider's client; they never appear in ``name``,
``note``, a repr or an exception message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import SecretStr
from pydantic_ai.models import Model

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.runtime.offline import OfflineBehaviour, offline_model
from agentrun.settings import ProviderSettings

__all__ = [
    "KNOWN_PROVIDERS",
    "ResolvedModel",
    "check_model_shape",
    "is_test_model",
    "register_test_model",
    "resolve_model",
    "unregister_test_model",
]

TEST = "test"
_SLEEP_RE = re.compile(r"^sleep-(\d{1,7})$")

# provider -> (settings attribute, environment variables in the order they are tried)
_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "openai": ("openai_api_key", ("OPENAI_API_KEY",)),
    "anthropic": ("anthropic_api_key", ("ANTHROPIC_API_KEY",)),
    "google": ("google_api_key", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
    "groq": ("groq_api_key", ("GROQ_API_KEY",)),
    "mistral": ("mistral_api_key", ("MISTRAL_API_KEY",)),
    "deepseek": ("deepseek_api_key", ("DEEPSEEK_API_KEY",)),
    "together": ("together_api_key", ("TOGETHER_API_KEY",)),
}
_ALIASES = {"google-gla": "google", "gemini": "google"}
KNOWN_PROVIDERS: tuple[str, ...] = (*_KEYS, "ollama")

_test_models: dict[str, Model] = {}


@dataclass(frozen=True)
class ResolvedModel:
    """The model to run and how to label its results.

    ``name`` is what ran: the requested ``provider:model``, or ``test`` (or the ``test:`` variant)
    when the offline model runs. ``note`` explains an offline fallback; ``None`` otherwise.
    """

    model: Model = field(repr=False)
    name: str
    offline: bool
    note: str | None = None


def register_test_model(name: str, model: Model) -> None:
    """Make ``resolve_model(name, ...)`` return ``model`` in this process (tests only).

    ``name`` must look like ``test:my-script`` and not shadow a built-in ``test:`` variant.
    """
    variant = name.removeprefix(f"{TEST}:")
    if not name.startswith(f"{TEST}:") or not variant:
        raise ValueError(f"a registered test model needs a name like 'test:my-script', got {name!r}")
    if variant in ("echo", "tools") or _SLEEP_RE.match(variant):
        raise ValueError(f"{name!r} is a built-in offline model variant; pick another name")
    _test_models[name] = model


def unregister_test_model(name: str) -> None:
    """Forget a model registered with :func:`register_test_model` (no error if absent)."""
    _test_models.pop(name, None)


def is_test_model(model: str) -> bool:
    model = model.strip()
    return model == TEST or model.startswith(f"{TEST}:")


def check_model_shape(model: str) -> str:
    """``model`` stripped, if it is shaped ``provider:model`` or ``test[:variant]``.

    Only the shape: which providers exist and which keys are set is for the worker that runs
    it to decide (an API node may know neither), see :func:`resolve_model`.
    """
    model = model.strip()
    if is_test_model(model):
        return model
    provider, sep, model_name = model.partition(":")
    if not sep or not provider or not model_name:
        raise _invalid(f"model {model!r} must be 'provider:model' (e.g. 'openai:gpt-4o') or 'test'.")
    return model


def resolve_model(model: str, settings: ProviderSettings) -> ResolvedModel:
    """Resolve ``model`` (``provider:model`` or ``test...``) against ``settings``.

    Raises:
        AgentrunError: ``validation_error`` for an unknown provider or test variant, an empty
            model name, or a missing key when ``offline_fallback`` is off.
    """
    model = model.strip()
    if model == TEST or model.startswith(f"{TEST}:"):
        return _resolve_test(model)
    provider, sep, model_name = model.partition(":")
    if not sep or not provider or not model_name:
        raise _invalid(f"model {model!r} must be 'provider:model' (e.g. 'openai:gpt-4o') or 'test'.")
    if provider in settings.compatible:
        entry = settings.compatible[provider]
        key = _secret(entry.api_key)
        return _real(model, _guarded(model, key, lambda: _openai_chat(model_name, entry.base_url, key)))
    if provider == "ollama":
        key = os.environ.get("OLLAMA_API_KEY") or None
        return _real(model, _guarded(model, key, lambda: _ollama(model_name, settings.ollama_base_url, key)))
    canonical = _ALIASES.get(provider, provider)
    if canonical not in _KEYS:
        known = ", ".join([*KNOWN_PROVIDERS, *sorted(settings.compatible)])
        raise _invalid(
            f"unknown model provider {provider!r} in {model!r}. Known providers: {known}; "
            "or 'test' for the offline model. Add an OpenAI-compatible server under "
            "providers.compatible to use another name."
        )
    key, env_names = _key_for(canonical, settings)
    if canonical == "openai" and settings.openai_base_url:
        # A configured base URL means an OpenAI-compatible server, which often needs no key.
        base_url = settings.openai_base_url
        return _real(model, _guarded(model, key, lambda: _openai_chat(model_name, base_url, key)))
    if key is None:
        return _no_key(model, env_names, canonical, settings)
    builder = _BUILDERS[canonical]
    return _real(model, _guarded(model, key, lambda: builder(model_name, key)))


def _resolve_test(model: str) -> ResolvedModel:
    variant = model.partition(":")[2]
    if variant in ("", "echo"):
        return ResolvedModel(offline_model(model_name=model), model, offline=True)
    if variant == "tools":
        return ResolvedModel(offline_model(OfflineBehaviour("tools"), model_name=model), model, offline=True)
    if match := _SLEEP_RE.match(variant):
        behaviour = OfflineBehaviour("sleep", sleep_ms=int(match.group(1)))
        return ResolvedModel(offline_model(behaviour, model_name=model), model, offline=True)
    if model in _test_models:
        return ResolvedModel(_test_models[model], model, offline=True)
    raise _invalid(
        f"unknown test model {model!r}: use 'test', 'test:echo', 'test:sleep-<ms>' or 'test:tools'."
    )


def _no_key(
    model: str, env_names: tuple[str, ...], provider: str, settings: ProviderSettings
) -> ResolvedModel:
    missing = " or ".join(env_names)
    setting = f"AGENTRUN_PROVIDERS__{provider.upper()}_API_KEY"
    if not settings.offline_fallback:
        raise _invalid(f"no {missing} set for {model}: set {setting} or {env_names[0]}.")
    note = f"offline test model: no {missing} set for {model}"
    behaviour = OfflineBehaviour(note=f"{note}; set {setting} or {env_names[0]} to run it")
    return ResolvedModel(offline_model(behaviour, model_name=TEST), TEST, offline=True, note=note)


def _real(name: str, model: Model) -> ResolvedModel:
    return ResolvedModel(model, name, offline=False)


def _key_for(provider: str, settings: ProviderSettings) -> tuple[str | None, tuple[str, ...]]:
    attribute, env_names = _KEYS[provider]
    key = _secret(getattr(settings, attribute))
    if key is None:
        key = next((os.environ[n] for n in env_names if os.environ.get(n)), None)
    return key, env_names


def _secret(value: SecretStr | None) -> str | None:
    return (value.get_secret_value() or None) if value is not None else None


def _invalid(message: str) -> AgentrunError:
    return AgentrunError(ErrorCode.validation_error, message)


def _guarded(model: str, key: str | None, build: Callable[[], Model]) -> Model:
    try:
        return build()
    except Exception as exc:  # a provider SDK refusing its arguments; never echo the key
        message = str(exc).replace(key, "***") if key else str(exc)
        raise _invalid(f"could not set up {model}: {type(exc).__name__}: {message}") from None


# Provider SDKs are imported only when a model of theirs is resolved: google-genai alone takes
# a noticeable time to import.


def _openai_chat(model_name: str, base_url: str, key: str | None) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    # Always an explicit key (a placeholder when none is configured), so the OpenAI SDK never
    # picks up OPENAI_API_KEY from the environment and sends it to a third-party server.
    provider = OpenAIProvider(base_url=base_url, api_key=key or "not-needed")
    return OpenAIChatModel(model_name, provider=provider)


def _ollama(model_name: str, base_url: str, key: str | None) -> Model:
    from pydantic_ai.models.ollama import OllamaModel
    from pydantic_ai.providers.ollama import OllamaProvider

    return OllamaModel(model_name, provider=OllamaProvider(base_url=base_url, api_key=key or "not-needed"))


def _openai(model_name: str, key: str) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(model_name, provider=OpenAIProvider(api_key=key))


def _anthropic(model_name: str, key: str) -> Model:
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    return AnthropicModel(model_name, provider=AnthropicProvider(api_key=key))


def _google(model_name: str, key: str) -> Model:
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    return GoogleModel(model_name, provider=GoogleProvider(api_key=key))


def _groq(model_name: str, key: str) -> Model:
    from pydantic_ai.models.groq import GroqModel
    from pydantic_ai.providers.groq import GroqProvider

    return GroqModel(model_name, provider=GroqProvider(api_key=key))


def _mistral(model_name: str, key: str) -> Model:
    from pydantic_ai.models.mistral import MistralModel
    from pydantic_ai.providers.mistral import MistralProvider

    return MistralModel(model_name, provider=MistralProvider(api_key=key))


def _deepseek(model_name: str, key: str) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.deepseek import DeepSeekProvider

    return OpenAIChatModel(model_name, provider=DeepSeekProvider(api_key=key))


def _together(model_name: str, key: str) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.together import TogetherProvider

    return OpenAIChatModel(model_name, provider=TogetherProvider(api_key=key))


_BUILDERS: dict[str, Callable[[str, str], Model]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "google": _google,
    "groq": _groq,
    "mistral": _mistral,
    "deepseek": _deepseek,
    "together": _together,
}
