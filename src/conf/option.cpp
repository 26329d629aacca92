// SPDX-License-Identifier: GPL-2.0-or-later
#include "conf/option.hpp"

#include <stdexcept>

#include "base/strings.hpp"

namespace ppolicy {

const char* opt_type_name(OptType t) {
  switch (t) {
    case OptType::string:
      return "string";
    case OptType::integer:
      return "integer";
    case OptType::duration:
      return "duration";
    case OptType::millis:
      return "duration";
    case OptType::size:
      return "size";
    case OptType::number:
      return "number";
    case OptType::boolean:
      return "boolean";
    case OptType::list:
      return "list";
    case OptType::choice:
      return "choice";
  }
  return "?";
}

OptionValues::OptionValues(std::span<const Option> rows, std::string section, std::string file)
    : d_rows(rows), d_values(rows.size()), d_section(std::move(section)), d_file(std::move(file)) {}

int OptionValues::index(std::string_view name) const {
  for (size_t i = 0; i < d_rows.size(); ++i)
    if (name == d_rows[i].name) return static_cast<int>(i);
  return -1;
}

bool OptionValues::parse(const Option& row, OptValue& v, std::string* why) const {
  const std::string& t = v.text;
  auto bounds = [&](long long x, const char* what) {
    if (x < row.min || x > row.max) {
      *why = row.max == LLONG_MAX
                 ? format("%s %lld is below the minimum %lld", what, x, row.min)
                 : format("%s %lld is outside %lld..%lld", what, x, row.min, row.max);
      return false;
    }
    v.i = x;
    v.d = static_cast<double>(x);
    return true;
  };
  switch (row.type) {
    case OptType::string:
      return true;
    case OptType::integer: {
      auto x = parse_int(t);
      if (!x) return *why = format("invalid integer \"%s\"", t.c_str()), false;
      return bounds(*x, "value");
    }
    case OptType::duration: {
      auto x = parse_duration(t);
      if (!x)
        return *why = format("invalid duration \"%s\" (e.g. 600, 90s, 10m, 2h, 1d)", t.c_str()),
               false;
      return bounds(*x, "duration");
    }
    case OptType::millis: {
      auto x = parse_millis(t);
      if (!x)
        return *why = format("invalid duration \"%s\" (e.g. 250ms, 2s, 1m)", t.c_str()), false;
      return bounds(*x, "duration (ms)");
    }
    case OptType::size: {
      auto x = parse_size(t);
      if (!x) return *why = format("invalid size \"%s\" (e.g. 65536, 64k, 32M)", t.c_str()), false;
      return bounds(*x, "size");
    }
    case OptType::number: {
      auto x = parse_double(t);
      if (!x) return *why = format("invalid number \"%s\"", t.c_str()), false;
      v.d = *x;
      return true;
    }
    case OptType::boolean: {
      auto x = parse_bool(t);
      if (!x) return *why = format("invalid boolean \"%s\" (yes or no)", t.c_str()), false;
      v.i = *x ? 1 : 0;
      return true;
    }
    case OptType::list:
      v.list = split(t);
      return true;
    case OptType::choice: {
      for (const auto& c : split(row.choices ? row.choices : "", "|")) {
        if (iequals(c, t)) {
          v.text = c;  // canonical spelling
          return true;
        }
      }
      *why = format("invalid value \"%s\" (one of %s)", t.c_str(), row.choices);
      return false;
    }
  }
  return false;
}

void OptionValues::apply(const IniEntry& e, ErrorList& errors) {
  int idx = index(e.key);
  if (idx < 0) {
    errors.add(d_file, e.line,
               format("[%s]: unknown key \"%s\"", d_section.c_str(), e.key.c_str()));
    return;
  }
  const Option& row = d_rows[idx];
  OptValue& v = d_values[idx];
  if (e.continuation) {
    // Long values go on indented lines: list items append, text joins.
    v.text += row.type == OptType::list ? "," : " ";
    v.text += e.value;
  } else if (v.explicit_) {
    if (row.type != OptType::list) {
      errors.add(d_file, e.line,
                 format("[%s]: \"%s\" is duplicate (first set on line %d)", d_section.c_str(),
                        e.key.c_str(), v.line));
      return;
    }
    v.text += ",";
    v.text += e.value;
  } else {
    v.text = e.value;
    v.line = e.line;
  }
  v.explicit_ = true;
  v.present = true;
  std::string why;
  v.bad = !parse(row, v, &why);
  if (v.bad)
    errors.add(d_file, e.line,
               format("[%s] \"%s\": %s", d_section.c_str(), e.key.c_str(), why.c_str()));
}

void OptionValues::finish(ErrorList& errors) {
  for (size_t i = 0; i < d_rows.size(); ++i) {
    const Option& row = d_rows[i];
    OptValue& v = d_values[i];
    if (v.explicit_) continue;
    if (row.def) {
      v.text = row.def;
      v.present = true;
      std::string why;
      if (!parse(row, v, &why))  // a broken default is a programming error
        throw std::logic_error(format("default of %s: %s", row.name, why.c_str()));
    } else if (row.required) {
      errors.add(d_file, 0, format("[%s]: \"%s\" is required", d_section.c_str(), row.name));
    }
  }
}

void OptionValues::store(void* obj, ErrorList& errors, size_t first, size_t last) const {
  for (size_t i = first; i < d_rows.size() && i < last; ++i) {
    const Option& row = d_rows[i];
    const OptValue& v = d_values[i];
    std::string why;
    if (row.store && v.present && !v.bad && !row.store(obj, v, &why))
      errors.add(d_file, v.line,
                 format("[%s] \"%s\": %s", d_section.c_str(), row.name, why.c_str()));
  }
}

const OptValue& OptionValues::get(std::string_view name) const {
  int idx = index(name);
  if (idx < 0)
    throw std::logic_error(
        format("option \"%.*s\" not in table", static_cast<int>(name.size()), name.data()));
  return d_values[idx];
}

bool OptionValues::has(std::string_view name) const {
  return get(name).present;
}
bool OptionValues::is_explicit(std::string_view name) const {
  return get(name).explicit_;
}
int OptionValues::line(std::string_view name) const {
  return get(name).line;
}
const std::string& OptionValues::str(std::string_view name) const {
  return get(name).text;
}
long long OptionValues::integer(std::string_view name) const {
  return get(name).i;
}
double OptionValues::number(std::string_view name) const {
  return get(name).d;
}
bool OptionValues::boolean(std::string_view name) const {
  return get(name).i != 0;
}
const std::vector<std::string>& OptionValues::list(std::string_view name) const {
  return get(name).list;
}

std::string OptionValues::canonical() const {
  std::string r;
  for (size_t i = 0; i < d_rows.size(); ++i) {
    r += d_rows[i].name;
    r += '=';
    if (d_values[i].present) r += d_values[i].text;
    r += '\n';
  }
  return r;
}

}  // namespace ppolicy
