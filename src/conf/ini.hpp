// SPDX-License-Identifier: GPL-2.0-or-later
// The INI layer: reads ppolicy.conf through inih's ini_parse_stream with our
// own line reader, so that every key and section carries its file:line, long
// lines are reported clearly, and indented continuation lines are told apart
// from repeated keys. Comments ("#" or ";" at the start of a line, and ";"
// after white space outside double quotes) are removed here, the same way on
// first and continuation lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/error.hpp"

namespace ppolicy {

// The line of an entry that came from -o SECTION.KEY=VALUE: its errors are
// the command line's, not the file's (ErrorList::add).
constexpr int k_override_line = -1;

struct IniEntry {
  std::string section;  // "ppolicyd", "module greylist", ...
  std::string key;
  std::string value;
  int line = 0;
  bool continuation = false;  // an indented line continuing the previous key
};

struct IniSection {
  std::string name;
  int line = 0;
};

struct IniFile {
  std::string path;
  std::vector<IniSection> sections;  // in file order, each once (first occurrence)
  std::vector<IniEntry> entries;     // in file order
};

// Longest accepted physical line (bytes, without the newline).
inline constexpr int k_max_ini_line = 4000;

// Read and split a file; syntax errors are added to `errors`.
IniFile read_ini_file(const std::string& path, ErrorList& errors);
IniFile read_ini_text(std::string_view text, const std::string& name, ErrorList& errors);

// Read a whole configuration file (at most 16 MB).
bool read_config_text(const std::string& path, std::string& text, std::string* why);

// Remove a trailing comment (";" after white space, outside "..." strings).
std::string strip_comment(std::string_view value);

}  // namespace ppolicy
