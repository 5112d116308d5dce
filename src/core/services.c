/* SPDX-License-Identifier: MIT */
/*
 * The services switchboard knows by name (data the config reads): `serve`
 * without a config builds a provider for each one whose key (or host)
 * variable is set; a config entry named after one of them inherits its
 * format, base URL and quirks. And the names of the wire formats a
 * provider may speak (each is a folder of src/formats/).
 */
#include "switchboard/provider.h"

const sb_known_provider_t sb_known_providers[] = {
    {"openai", "OpenAI", "openai", "https://api.openai.com/v1",
     "OPENAI_API_KEY", "OPENAI_BASE_URL", "", SB_QUIRK_RESPONSES_API},
    {"anthropic", "Anthropic", "anthropic", "https://api.anthropic.com",
     "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "", 0},
    {"gemini", "Google AI Studio", "gemini",
     "https://generativelanguage.googleapis.com", "GEMINI_API_KEY",
     "GEMINI_BASE_URL", "", 0},
    {"openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1",
     "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "",
     SB_QUIRK_OPENROUTER_FIELDS | SB_QUIRK_FORWARD_APP_HEADERS},
    {"groq", "Groq", "openai", "https://api.groq.com/openai/v1",
     "GROQ_API_KEY", "GROQ_BASE_URL", "", 0},
    {"mistral", "Mistral", "openai", "https://api.mistral.ai/v1",
     "MISTRAL_API_KEY", "MISTRAL_BASE_URL", "", SB_QUIRK_NO_STREAM_OPTIONS},
    {"deepseek", "DeepSeek", "openai", "https://api.deepseek.com",
     "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "", 0},
    {"together", "Together", "openai", "https://api.together.xyz/v1",
     "TOGETHER_API_KEY", "TOGETHER_BASE_URL", "", 0},
    {"fireworks", "Fireworks", "openai",
     "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY",
     "FIREWORKS_BASE_URL", "", 0},
    {"xai", "xAI", "openai", "https://api.x.ai/v1", "XAI_API_KEY",
     "XAI_BASE_URL", "", 0},
    {"ollama", "Ollama", "openai", "http://127.0.0.1:11434/v1", NULL,
     "OLLAMA_HOST", "/v1", 0},
    {"llamacpp", "llama.cpp", "openai", "http://127.0.0.1:8080/v1", NULL,
     "LLAMACPP_HOST", "/v1", 0},
    {"vllm", "vLLM", "openai", "http://127.0.0.1:8000/v1", NULL,
     "VLLM_HOST", "/v1", 0},
    {"lmstudio", "LM Studio", "openai", "http://127.0.0.1:1234/v1", NULL,
     "LMSTUDIO_HOST", "/v1", 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0},
};

const sb_known_provider_t *sb_known_provider(const char *name, size_t n)
{
  for (const sb_known_provider_t *k = sb_known_providers; k->name != NULL; k++)
    if (strlen(k->name) == n && memcmp(k->name, name, n) == 0)
      return k;
  return NULL;
}

const char *const sb_wire_formats[] = {"openai", "anthropic", "gemini", NULL};

bool sb_wire_format_known(const char *name)
{
  for (size_t i = 0; sb_wire_formats[i] != NULL; i++)
    if (strcmp(sb_wire_formats[i], name) == 0)
      return true;
  return false;
}
