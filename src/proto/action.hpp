// SPDX-License-Identifier: GPL-2.0-or-later
// Postfix access(5) actions: the words a policy may answer with, checked when
// the configuration is loaded, and the final check of an expanded reply
// before it is written (never empty, never an unknown word, one line of
// valid UTF-8 without control characters, arguments that Postfix accepts).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ppolicy {

struct ActionSyntax {
  std::string word;  // canonical (upper case, or the numeric code)
  std::string text;  // the rest, raw (may hold ${...})
};

// Split and check "WORD [text]". Unknown words and missing required
// arguments (FILTER, REDIRECT, BCC, PREPEND) are errors.
std::optional<ActionSyntax> split_action(std::string_view action, std::string* why);

// A complete action without expansions (default_action): the reply value.
std::optional<std::string> parse_plain_action(std::string_view action, std::string* why);

// Make an expanded text safe to send and check the word's argument again
// (expansion may have produced something Postfix would reject). Returns
// false with a reason when the reply must not be sent.
bool finish_action_text(const std::string& word, std::string& text, std::string* why);

// Longest action text sent to Postfix (SMTP reply lines are limited).
inline constexpr size_t k_max_action_text = 450;

}  // namespace ppolicy
