// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_explain.hpp"

#include "base/strings.hpp"
#include "dns/spf_record.hpp"

namespace ppolicy::dns {
namespace {

// Printable ASCII only: the text ends up in an SMTP reply or a header
// (macro values such as the local-part may carry anything).
std::string printable(std::string s) {
  for (char& c : s)
    if (c < 0x20 || c > 0x7e) c = '?';
  return s;
}

std::string expand_default(const SpfMacroValues& v, const SpfOutcome& o, std::string_view text) {
  std::string why;
  if (!valid_macro_string(text, MacroUse::explanation, &why)) return std::string(text);
  return expand_macros(text, v, o.domain).value_or(std::string(text));
}

// A header comment's text: '(' ')' '\' quoted (RFC 5322 ccontent).
std::string comment_text(std::string_view s) {
  std::string out;
  for (char c : printable(std::string(s))) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// A key-value value: as it is when it is atext, '.' and '@' only (the
// usual addresses and names, unquoted as libspf2 and most MTAs write them),
// else a quoted-string.
std::string kv_value(std::string_view s) {
  static const char atext[] = "!#$%&'*+-/=?^_`{|}~.@";
  bool plain = !s.empty();
  for (char c : s) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && !(c && std::string_view(atext).find(c) != std::string_view::npos)) plain = false;
  }
  if (plain) return std::string(s);
  std::string out = "\"";
  for (char c : printable(std::string(s))) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string spf_explanation(SpfLookups& dns, const SpfMacroValues& v, const SpfOutcome& o,
                            std::string_view default_text) {
  std::string why;
  std::optional<std::string> target;
  if (!o.exp.empty()) target = expand_domain(o.exp, v, o.domain);
  if (target) {
    Query q = dns.lookup(QType::txt, *target, false);
    if (q.status == Status::ok && q.names.size() == 1 &&
        valid_macro_string(q.names.front(), MacroUse::explanation, &why)) {
      if (auto text = expand_macros(q.names.front(), v, o.domain)) return printable(*text);
    }
  }
  return printable(expand_default(v, o, default_text));
}

std::string spf_comment(const SpfHeader& h) {
  std::string s = h.identity_address, ip = h.ip.str();
  std::string text;
  switch (h.result) {
    case SpfResult::pass:
      text = format("domain of %s designates %s as permitted sender", s.c_str(), ip.c_str());
      break;
    case SpfResult::fail:
      text =
          format("domain of %s does not designate %s as permitted sender", s.c_str(), ip.c_str());
      break;
    case SpfResult::softfail:
      text = format("domain of transitioning %s does not designate %s as permitted sender",
                    s.c_str(), ip.c_str());
      break;
    case SpfResult::neutral:
      text = format("%s is neither permitted nor denied by domain of %s", ip.c_str(), s.c_str());
      break;
    case SpfResult::none:
      text = format("domain of %s does not designate permitted sender hosts", s.c_str());
      break;
    case SpfResult::permerror:
      text = format("permanent error in processing domain of %s", s.c_str());
      break;
    case SpfResult::temperror:
      text = format("temporary error in processing during lookup of %s", s.c_str());
      break;
  }
  return comment_text(h.receiver + ": " + text);
}

std::string spf_header(const SpfHeader& h) {
  std::string out = format("%s (%s)", spf_result_name(h.result), spf_comment(h).c_str());
  auto kv = [&](const char* key, std::string_view value) {
    out += format(" %s=%s;", key, kv_value(value).c_str());
  };
  // Lean: the header is part of the cached result, whose entry (key and
  // all fields) has room for about 500 bytes. The receiver is in the
  // comment; the problem of an error is the explanation field.
  kv("client-ip", h.ip.str());
  kv("envelope-from", h.envelope);
  if (!h.helo.empty()) kv("helo", h.helo);
  kv("identity", h.identity);
  return out;
}

}  // namespace ppolicy::dns
