// SPDX-License-Identifier: GPL-2.0-or-later
// Configuration errors. Loading collects every problem it can find (so
// `ppolicyd -t` shows them all at once, like postfix check) and throws one
// ConfigError at the end whose message has one "file:line: what" per line.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ppolicy {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by setters and module factories: a short phrase about one key. The
// framework adds file, line, section and key (nginx style).
class KeyError : public std::runtime_error {
 public:
  KeyError(std::string key, const std::string& what)
      : std::runtime_error(what), d_key(std::move(key)) {}
  const std::string& key() const { return d_key; }

 private:
  std::string d_key;
};

class ErrorList {
 public:
  void add(const std::string& file, int line, const std::string& msg);
  void add(const std::string& msg) { d_errors.push_back({0, msg}); }
  bool empty() const { return d_errors.empty(); }
  size_t size() const { return d_errors.size(); }
  // The messages, sorted by line (those without a line first), each kept
  // whole (a policy error carries its statement and a caret line).
  std::vector<std::string> errors() const;
  // Throws ConfigError with all messages, as errors(), when there are any.
  void raise_if_any() const;

 private:
  std::vector<std::pair<int, std::string>> d_errors;  // line, message
};

}  // namespace ppolicy
