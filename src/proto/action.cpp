// SPDX-License-Identifier: GPL-2.0-or-later
#include "proto/action.hpp"

#include <cctype>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

enum Arg { optional, required_transport, required_address, required_header };

struct Word {
  const char* name;
  Arg arg;
};

// access(5): the actions a policy server may return. Restriction names are
// deliberately not accepted (Postfix evaluates them in smtpd's context and
// answers 451 4.3.5 on any mistake).
const Word k_words[] = {
    {"OK", optional},
    {"DUNNO", optional},
    {"REJECT", optional},
    {"DEFER", optional},
    {"DEFER_IF_REJECT", optional},
    {"DEFER_IF_PERMIT", optional},
    {"WARN", optional},
    {"INFO", optional},
    {"HOLD", optional},
    {"DISCARD", optional},
    {"FILTER", required_transport},
    {"REDIRECT", required_address},
    {"BCC", required_address},
    {"PREPEND", required_header},
};

const Word* find_word(std::string_view w) {
  for (const auto& x : k_words)
    if (iequals(w, x.name)) return &x;
  return nullptr;
}

bool numeric_code(std::string_view w) {
  return w.size() == 3 && (w[0] == '4' || w[0] == '5') &&
         std::isdigit(static_cast<unsigned char>(w[1])) &&
         std::isdigit(static_cast<unsigned char>(w[2]));
}

bool check_arg(Arg arg, std::string_view text, const char* word, std::string* why) {
  switch (arg) {
    case optional:
      return true;
    case required_transport:
      if (text.find(':') == std::string_view::npos || text.find(' ') != std::string_view::npos) {
        *why = format("%s needs transport:destination", word);
        return false;
      }
      return true;
    case required_address:
      if (text.empty() || text.find(' ') != std::string_view::npos) {
        *why = format("%s needs one address (user@domain)", word);
        return false;
      }
      return true;
    case required_header: {
      auto colon = text.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        *why = format("%s needs \"Header-Name: value\"", word);
        return false;
      }
      for (size_t i = 0; i < colon; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c <= 32 || c >= 127) {
          *why = format("%s: invalid header name \"%.*s\"", word, static_cast<int>(colon),
                        text.data());
          return false;
        }
      }
      return true;
    }
  }
  return true;
}

}  // namespace

std::optional<ActionSyntax> split_action(std::string_view action, std::string* why) {
  action = trim(action);
  if (action.empty()) {
    *why = "empty action";
    return std::nullopt;
  }
  auto sp = action.find_first_of(" \t");
  std::string_view w = action.substr(0, sp);
  std::string_view rest =
      sp == std::string_view::npos ? std::string_view() : trim(action.substr(sp));
  ActionSyntax out;
  out.text = std::string(rest);
  if (numeric_code(w)) {
    out.word = std::string(w);
    return out;
  }
  const Word* word = find_word(w);
  if (!word) {
    *why = format(
        "unknown action \"%.*s\" (OK, DUNNO, REJECT, DEFER, DEFER_IF_REJECT, "
        "DEFER_IF_PERMIT, 4NN, 5NN, WARN, INFO, HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND)",
        static_cast<int>(w.size()), w.data());
    return std::nullopt;
  }
  out.word = word->name;
  // Arguments containing ${...} are checked again after expansion.
  if (out.text.find("${") == std::string::npos && !check_arg(word->arg, out.text, word->name, why))
    return std::nullopt;
  if (word->arg != optional && out.text.empty()) {
    check_arg(word->arg, out.text, word->name, why);
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> parse_plain_action(std::string_view action, std::string* why) {
  auto a = split_action(action, why);
  if (!a) return std::nullopt;
  if (a->text.find("${") != std::string::npos) {
    *why = "expansions (${...}) are not allowed here";
    return std::nullopt;
  }
  std::string text = a->text;
  if (!finish_action_text(a->word, text, why)) return std::nullopt;
  return text.empty() ? a->word : a->word + " " + text;
}

bool finish_action_text(const std::string& word, std::string& text, std::string* why) {
  // One line of printable text: control characters (from attribute values
  // expanded into the text) become spaces, invalid UTF-8 becomes '?'.
  std::string clean;
  clean.reserve(text.size());
  for (char c : text)
    clean += (static_cast<unsigned char>(c) < 32 || c == 127) ? ' ' : c;
  if (!valid_utf8(clean)) {
    for (char& c : clean)
      if (static_cast<unsigned char>(c) >= 128) c = '?';
  }
  std::string_view t = trim(clean);
  if (t.size() > k_max_action_text) {
    // Cut on a UTF-8 character boundary.
    size_t cut = k_max_action_text;
    while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80)
      --cut;
    t = t.substr(0, cut);
  }
  text = std::string(t);
  if (numeric_code(word)) return true;
  const Word* w = find_word(word);
  if (!w) {
    *why = "unknown action";
    return false;
  }
  return check_arg(w->arg, text, w->name, why);
}

}  // namespace ppolicy
