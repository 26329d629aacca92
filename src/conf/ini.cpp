// SPDX-License-Identifier: GPL-2.0-or-later
#include "conf/ini.hpp"

#include <ini.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "base/strings.hpp"
#include "config.h"

namespace ppolicy {

void ErrorList::add(const std::string& file, int line, const std::string& msg) {
  std::string where = line > 0                  ? format("%s:%d", file.c_str(), line)
                      : line == k_override_line ? std::string("ppolicyd -o")
                                                : file;
  d_errors.push_back({line > 0 ? line : 0, format("%s: %s", where.c_str(), msg.c_str())});
}

std::vector<std::string> ErrorList::errors() const {
  auto sorted = d_errors;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& e : sorted)
    out.push_back(std::move(e.second));
  return out;
}

void ErrorList::raise_if_any() const {
  if (d_errors.empty()) return;
  throw ConfigError(join(errors(), "\n"));
}

std::string strip_comment(std::string_view v) {
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && quoted && i + 1 < v.size()) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) {
      return std::string(trim(v.substr(0, i)));
    }
  }
  return std::string(trim(v));
}

namespace {

// State shared by the line reader and the handler: inih calls the reader for
// each physical line, then the handler for the key it found on that line, so
// "the line just read" is the handler's line.
struct ReadState {
  std::string_view text;  // whole file
  size_t pos = 0;
  int line = 0;
  bool last_indented = false;
  IniFile* out = nullptr;
  ErrorList* errors = nullptr;
};

char* read_line(char* str, int num, void* stream) {
  auto* st = static_cast<ReadState*>(stream);
  if (st->pos >= st->text.size()) return nullptr;
  size_t nl = st->text.find('\n', st->pos);
  size_t end = nl == std::string_view::npos ? st->text.size() : nl;
  std::string_view raw = st->text.substr(st->pos, end - st->pos);
  st->pos = nl == std::string_view::npos ? st->text.size() : nl + 1;
  ++st->line;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  st->last_indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');

  std::string_view body = trim(raw);
  if (body.find('\0') != std::string_view::npos) {
    st->errors->add(st->out->path, st->line, "NUL byte in line");
    body = {};
  }
  // Section headers are recorded here because inih never reports a section
  // without keys, and we want "[module x]" with a missing type to be an error.
  if (body.size() >= 2 && body.front() == '[') {
    auto close = body.find(']');
    if (close != std::string_view::npos) {
      std::string name(trim(body.substr(1, close - 1)));
      bool seen = false;
      for (const auto& s : st->out->sections)
        seen = seen || s.name == name;
      if (!seen) st->out->sections.push_back({name, st->line});
    }
  }
  // inih's buffer is `num` bytes including "\n\0"; a longer line would be cut
  // and its tail parsed as a new line, so refuse it here with a clear message.
  size_t room = num > 3 ? static_cast<size_t>(num - 3) : 0;
  if (raw.size() > room) {
    st->errors->add(
        st->out->path, st->line,
        format("line longer than %zu bytes; continue long values on indented lines", room));
    body = {};
  }
  if (!body.empty() && (body[0] == '#' || body[0] == ';')) body = {};
  // Keep one space of indentation: inih uses it to detect continuation lines.
  // The result fits: 1 + body (<= room) + "\n" + NUL <= num.
  std::string line;
  if (!body.empty()) {
    if (st->last_indented) line = " ";
    line.append(body);
  }
  line += '\n';
  std::memcpy(str, line.data(), line.size());
  str[line.size()] = '\0';
  return str;
}

int handle(void* user, const char* section, const char* name, const char* value) {
  auto* st = static_cast<ReadState*>(user);
  IniEntry e;
  e.section = section;
  e.key = name;
  e.value = strip_comment(value ? value : "");
  e.line = st->line;
  e.continuation = st->last_indented && !st->out->entries.empty() &&
                   st->out->entries.back().section == e.section &&
                   st->out->entries.back().key == e.key;
  if (e.continuation && e.value.empty()) return 1;
  st->out->entries.push_back(std::move(e));
  return 1;
}

void configure_inih() {
  // Debian's libinih exposes its limits as variables: use a heap buffer big
  // enough for k_max_ini_line and do comment handling ourselves (quote aware).
#if HAVE_DECL_INI_MAX_LINE
  ini_use_stack = false;
  ini_allow_realloc = false;
  ini_max_line = k_max_ini_line + 3;
#endif
#if HAVE_DECL_INI_ALLOW_INLINE_COMMENTS
  ini_allow_inline_comments = false;
#endif
}

}  // namespace

IniFile read_ini_text(std::string_view text, const std::string& name, ErrorList& errors) {
  configure_inih();
  IniFile out;
  out.path = name;
  ReadState st;
  st.text = text;
  st.out = &out;
  st.errors = &errors;
  // UTF-8 byte order mark, as written by some editors.
  if (st.text.substr(0, 3) == "\xEF\xBB\xBF") st.pos = 3;
  int rc = ini_parse_stream(read_line, &st, handle, &st);
  if (rc > 0) {
    bool known = false;
    for (const auto& e : errors.errors())
      known = known || e.rfind(format("%s:%d:", name.c_str(), rc), 0) == 0;
    if (!known) errors.add(name, rc, "syntax error: expected \"[section]\" or \"key = value\"");
  } else if (rc < 0) {
    errors.add(name, 0, "cannot parse (out of memory)");
  }
  for (const auto& e : out.entries)
    if (e.section.empty())
      errors.add(name, e.line, format("\"%s\" outside of a [section]", e.key.c_str()));
  return out;
}

bool read_config_text(const std::string& path, std::string& text, std::string* why) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    *why = format("cannot open: %s", std::strerror(errno));
    return false;
  }
  char buf[8192];
  size_t n;
  text.clear();
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    text.append(buf, n);
    if (text.size() > 16 * 1024 * 1024) {
      *why = "file larger than 16 MB";
      return false;
    }
  }
  if (std::ferror(f.get())) {
    *why = format("read error: %s", std::strerror(errno));
    return false;
  }
  return true;
}

IniFile read_ini_file(const std::string& path, ErrorList& errors) {
  std::string text, why;
  if (!read_config_text(path, text, &why)) {
    errors.add(path, 0, why);
    return IniFile{path, {}, {}};
  }
  return read_ini_text(text, path, errors);
}

}  // namespace ppolicy
