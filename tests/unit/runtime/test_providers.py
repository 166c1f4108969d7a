"""Model resolution: every provider, key sources, offline fallback, errors, no key leaks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_ai import models
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.groq import GroqModel
from pydantic_ai.models.mistral import MistralModel
from pydantic_ai.models.ollama import OllamaModel
from pydantic_ai.models.openai import OpenAIChatModel

from agentrun.domain.errors import AgentrunError, ErrorCode
from agentrun.runtime import providers
from agentrun.runtime.providers import (
    KNOWN_PROVIDERS,
    ResolvedModel,
    register_test_model,
    resolve_model,
    unregister_test_model,
)
from agentrun.settings import OpenAICompatible, ProviderSettings

KEY_ENV = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GROQ_API_KEY",
    "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "OLLAMA_API_KEY",
    "OLLAMA_BASE_URL",
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", False)
    for name in KEY_ENV:
        monkeypatch.delenv(name, raising=False)


def api_key_of(model: Any) -> str:
    """The key a built model's SDK client will send."""
    client = model.client
    if isinstance(model, GoogleModel):
        return client._api_client.api_key
    if isinstance(model, MistralModel):
        return client.sdk_configuration.security.api_key
    return client.api_key


CASES = [
    ("openai", "gpt-4o", OpenAIChatModel, "openai_api_key", "api.openai.com"),
    ("anthropic", "claude-sonnet-4-5", AnthropicModel, "anthropic_api_key", "api.anthropic.com"),
    ("google", "gemini-2.5-flash", GoogleModel, "google_api_key", "generativelanguage.googleapis.com"),
    ("groq", "llama-3.3-70b-versatile", GroqModel, "groq_api_key", "api.groq.com"),
    ("mistral", "mistral-large-latest", MistralModel, "mistral_api_key", "api.mistral.ai"),
    ("deepseek", "deepseek-chat", OpenAIChatModel, "deepseek_api_key", "api.deepseek.com"),
    ("together", "meta-llama/Llama-3.3-70B", OpenAIChatModel, "together_api_key", "api.together.xyz"),
]


@pytest.mark.parametrize(("provider", "name", "model_class", "setting", "host"), CASES)
def test_each_provider_resolves_with_the_key_from_settings(
    provider: str, name: str, model_class: type, setting: str, host: str
) -> None:
    key = f"sk-{provider}-from-settings"
    resolved = resolve_model(f"{provider}:{name}", ProviderSettings(**{setting: SecretStr(key)}))
    assert type(resolved.model) is model_class
    assert resolved.model.model_name == name
    assert host in resolved.model.base_url
    assert api_key_of(resolved.model) == key
    assert resolved == ResolvedModel(resolved.model, f"{provider}:{name}", offline=False, note=None)


ENV_CASES = [
    ("openai", "OPENAI_API_KEY"),
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("google", "GOOGLE_API_KEY"),
    ("google", "GEMINI_API_KEY"),
    ("groq", "GROQ_API_KEY"),
    ("mistral", "MISTRAL_API_KEY"),
    ("deepseek", "DEEPSEEK_API_KEY"),
    ("together", "TOGETHER_API_KEY"),
]


@pytest.mark.parametrize(("provider", "env"), ENV_CASES)
def test_key_falls_back_to_the_providers_usual_env_var(
    provider: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, f"sk-{provider}-from-env")
    resolved = resolve_model(f"{provider}:some-model", ProviderSettings())
    assert not resolved.offline
    assert api_key_of(resolved.model) == f"sk-{provider}-from-env"


def test_settings_key_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    resolved = resolve_model("anthropic:claude", ProviderSettings(anthropic_api_key=SecretStr("sk-settings")))
    assert api_key_of(resolved.model) == "sk-settings"


def test_google_alias() -> None:
    resolved = resolve_model("google-gla:gemini-2.5-pro", ProviderSettings(google_api_key=SecretStr("k")))
    assert isinstance(resolved.model, GoogleModel)
    assert resolved.name == "google-gla:gemini-2.5-pro"


@pytest.mark.parametrize(("provider", "env"), [(p, e) for p, e in ENV_CASES if e != "GEMINI_API_KEY"])
def test_no_key_falls_back_to_the_labelled_offline_model(provider: str, env: str) -> None:
    resolved = resolve_model(f"{provider}:m1", ProviderSettings())
    assert resolved.offline is True
    assert resolved.name == "test"
    assert isinstance(resolved.model, FunctionModel)
    assert resolved.note is not None
    assert f"no {env}" in resolved.note
    assert f"{provider}:m1" in resolved.note
    assert resolved.note.startswith("offline test model")


def test_offline_fallback_off_raises_a_validation_error() -> None:
    with pytest.raises(AgentrunError) as info:
        resolve_model("openai:gpt-4o", ProviderSettings(offline_fallback=False))
    assert info.value.code == ErrorCode.validation_error
    assert "OPENAI_API_KEY" in info.value.message


def test_openai_base_url_points_openai_at_a_compatible_server_and_needs_no_key() -> None:
    resolved = resolve_model("openai:local-model", ProviderSettings(openai_base_url="http://127.0.0.1:9/v1"))
    assert not resolved.offline
    assert isinstance(resolved.model, OpenAIChatModel)
    assert resolved.model.base_url.startswith("http://127.0.0.1:9/v1")


def test_ollama_needs_no_key_and_uses_the_configured_url() -> None:
    settings = ProviderSettings(ollama_base_url="http://10.1.2.3:11434/v1", offline_fallback=False)
    resolved = resolve_model("ollama:llama3.2:3b", settings)
    assert isinstance(resolved.model, OllamaModel)
    assert resolved.model.model_name == "llama3.2:3b"
    assert resolved.model.base_url.startswith("http://10.1.2.3:11434/v1")
    assert resolved.name == "ollama:llama3.2:3b"
    assert not resolved.offline


def test_compatible_server_by_name_with_and_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OpenAI key in the environment must never be sent to a third-party compatible server.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai")
    settings = ProviderSettings(
        compatible={
            "vllm": OpenAICompatible(base_url="http://10.0.0.5:8000/v1"),
            "corp": OpenAICompatible(base_url="https://llm.example.com/v1", api_key=SecretStr("sk-corp")),
        }
    )
    vllm = resolve_model("vllm:qwen2.5", settings)
    corp = resolve_model("corp:big", settings)
    assert isinstance(vllm.model, OpenAIChatModel) and isinstance(corp.model, OpenAIChatModel)
    assert vllm.model.base_url.startswith("http://10.0.0.5:8000/v1")
    assert corp.model.base_url.startswith("https://llm.example.com/v1")
    assert api_key_of(vllm.model) != "sk-real-openai"
    assert api_key_of(corp.model) == "sk-corp"


def test_compatible_name_wins_over_builtin_provider() -> None:
    settings = ProviderSettings(compatible={"groq": OpenAICompatible(base_url="http://127.0.0.1:7/v1")})
    resolved = resolve_model("groq:x", settings)
    assert isinstance(resolved.model, OpenAIChatModel)


def test_unknown_provider_names_the_known_ones() -> None:
    settings = ProviderSettings(compatible={"mine": OpenAICompatible(base_url="http://127.0.0.1:7/v1")})
    with pytest.raises(AgentrunError) as info:
        resolve_model("bogus:model", settings)
    assert info.value.code == ErrorCode.validation_error
    assert "'bogus'" in info.value.message
    for name in (*KNOWN_PROVIDERS, "mine"):
        assert name in info.value.message


@pytest.mark.parametrize("model", ["openai:", ":gpt-4o", "gpt-4o", ""])
def test_malformed_model_strings_are_validation_errors(model: str) -> None:
    with pytest.raises(AgentrunError) as info:
        resolve_model(model, ProviderSettings())
    assert info.value.code == ErrorCode.validation_error


@pytest.mark.parametrize(("model", "offline"), [("test", True), ("test:echo", True), ("test:tools", True)])
def test_test_variants_are_offline(model: str, offline: bool) -> None:
    resolved = resolve_model(model, ProviderSettings(openai_api_key=SecretStr("sk-x")))
    assert resolved.offline is offline
    assert resolved.name == model
    assert isinstance(resolved.model, FunctionModel)
    assert resolved.note is None


def test_sleep_variant_parses_milliseconds() -> None:
    resolved = resolve_model("test:sleep-250", ProviderSettings())
    assert resolved.offline and resolved.name == "test:sleep-250"
    with pytest.raises(AgentrunError):
        resolve_model("test:sleep-abc", ProviderSettings())


def test_unknown_test_variant_is_an_error() -> None:
    with pytest.raises(AgentrunError) as info:
        resolve_model("test:nope", ProviderSettings())
    assert "test:sleep-<ms>" in info.value.message


def test_registered_test_model_is_returned_until_unregistered() -> None:
    model = FunctionModel(lambda messages, info: None)  # type: ignore[arg-type, return-value]
    register_test_model("test:my-script", model)
    try:
        resolved = resolve_model("test:my-script", ProviderSettings())
        assert resolved.model is model
        assert resolved.name == "test:my-script"
        assert resolved.offline
    finally:
        unregister_test_model("test:my-script")
    with pytest.raises(AgentrunError):
        resolve_model("test:my-script", ProviderSettings())


@pytest.mark.parametrize("name", ["my-script", "test:", "test:echo", "test:sleep-5", "openai:x"])
def test_register_refuses_bad_or_builtin_names(name: str) -> None:
    with pytest.raises(ValueError):
        register_test_model(name, FunctionModel(lambda m, i: None))  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(("provider", "name", "model_class", "setting", "host"), CASES)
def test_key_never_in_repr_str_or_note(
    provider: str, name: str, model_class: type, setting: str, host: str
) -> None:
    key = "sk-SUPER-SECRET-0123456789"
    resolved = resolve_model(f"{provider}:{name}", ProviderSettings(**{setting: SecretStr(key)}))
    assert api_key_of(resolved.model) == key  # the key did arrive...
    for text in (repr(resolved), str(resolved), repr(resolved.model), str(resolved.model), resolved.name):
        assert key not in text  # ...and shows nowhere


def test_key_is_redacted_from_a_provider_setup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-SUPER-SECRET-0123456789"

    def broken(model_name: str, api_key: str) -> Any:
        raise RuntimeError(f"client refused key {api_key}")

    monkeypatch.setitem(providers._BUILDERS, "anthropic", broken)
    with pytest.raises(AgentrunError) as info:
        resolve_model("anthropic:claude", ProviderSettings(anthropic_api_key=SecretStr(key)))
    assert "client refused key ***" in info.value.message
    assert key not in info.value.message
    assert key not in repr(info.value) and key not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
