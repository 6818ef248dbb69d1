package headers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file implements the parsing and serialization of RFC 9651
// ("Structured Field Values for HTTP") Dictionaries, the syntax of
// Permissions-Policy, Integrity-Policy and Integrity-Policy-Report-Only.
// It follows the algorithms of RFC 9651 section 4 step by step.

// ErrStructuredField is wrapped by every parse error: the browser ignores
// a field that fails to parse.
var ErrStructuredField = errors.New("invalid structured field")

// Kind is the type of a bare item.
type Kind int

// Bare item kinds (RFC 9651 section 3.3).
const (
	KindInteger Kind = iota + 1
	KindDecimal
	KindString
	KindToken
	KindByteSequence
	KindBoolean
	KindDate
	KindDisplayString
)

// BareItem is one RFC 9651 bare item. Int holds an Integer or Date, or a
// Decimal in thousandths; Str a String, Token or Display String; Bytes a
// Byte Sequence; Bool a Boolean.
type BareItem struct {
	Kind  Kind
	Int   int64
	Str   string
	Bytes []byte
	Bool  bool
}

// Param is one parameter; Params keep their order, a repeated key
// overwrites the earlier value in place.
type Param struct {
	Key   string
	Value BareItem
}

// Item is a bare item with parameters.
type Item struct {
	Bare   BareItem
	Params []Param
}

// Member is one Dictionary member: an Item, or an Inner List with its
// own parameters.
type Member struct {
	Key    string
	Inner  bool
	Item   Item   // when !Inner
	List   []Item // when Inner
	Params []Param
}

// Dictionary is an ordered RFC 9651 Dictionary.
type Dictionary []Member

// Get returns the member named key.
func (d Dictionary) Get(key string) (Member, bool) {
	for _, m := range d {
		if m.Key == key {
			return m, true
		}
	}
	return Member{}, false
}

// ParseDictionary parses a field value (several field lines already joined
// with ", ") as an RFC 9651 Dictionary. Values over MaxPolicyBytes and
// dictionaries over MaxDirectives members are refused.
func ParseDictionary(value string) (Dictionary, error) {
	if len(value) > MaxPolicyBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrStructuredField, MaxPolicyBytes)
	}
	p := &sfParser{s: value}
	p.skipSP()
	d, err := p.dictionary()
	if err != nil {
		return nil, err
	}
	p.skipSP()
	if !p.eof() {
		return nil, p.errf("trailing characters")
	}
	return d, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }
func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}
func (p *sfParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrStructuredField, p.i, fmt.Sprintf(format, args...))
}
func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}
func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// dictionary is RFC 9651 section 4.2.2.
func (p *sfParser) dictionary() (Dictionary, error) {
	var d Dictionary
	for !p.eof() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var m Member
		if p.peek() == '=' {
			p.i++
			m, err = p.itemOrInnerList()
			if err != nil {
				return nil, err
			}
		} else {
			params, err := p.parameters()
			if err != nil {
				return nil, err
			}
			m = Member{Item: Item{Bare: BareItem{Kind: KindBoolean, Bool: true}, Params: params}}
		}
		m.Key = key
		if i := slices.IndexFunc(d, func(x Member) bool { return x.Key == key }); i >= 0 {
			d[i] = m
		} else {
			if len(d) >= MaxDirectives {
				return nil, p.errf("more than %d members", MaxDirectives)
			}
			d = append(d, m)
		}
		p.skipOWS()
		if p.eof() {
			return d, nil
		}
		if p.peek() != ',' {
			return nil, p.errf("expected a comma between members")
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, p.errf("trailing comma")
		}
	}
	return d, nil
}

// itemOrInnerList is RFC 9651 section 4.2.1.1.
func (p *sfParser) itemOrInnerList() (Member, error) {
	if p.peek() == '(' {
		list, params, err := p.innerList()
		return Member{Inner: true, List: list, Params: params}, err
	}
	it, err := p.item()
	return Member{Item: it}, err
}

// innerList is RFC 9651 section 4.2.1.2.
func (p *sfParser) innerList() ([]Item, []Param, error) {
	p.i++ // '('
	var list []Item
	for !p.eof() {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			params, err := p.parameters()
			return list, params, err
		}
		it, err := p.item()
		if err != nil {
			return nil, nil, err
		}
		if len(list) >= MaxSources {
			return nil, nil, p.errf("inner list longer than %d items", MaxSources)
		}
		list = append(list, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, nil, p.errf("expected a space or ) in an inner list")
		}
	}
	return nil, nil, p.errf("unterminated inner list")
}

// item is RFC 9651 section 4.2.3.
func (p *sfParser) item() (Item, error) {
	b, err := p.bareItem()
	if err != nil {
		return Item{}, err
	}
	params, err := p.parameters()
	return Item{Bare: b, Params: params}, err
}

// parameters is RFC 9651 section 4.2.3.2.
func (p *sfParser) parameters() ([]Param, error) {
	var params []Param
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v := BareItem{Kind: KindBoolean, Bool: true}
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		if i := slices.IndexFunc(params, func(x Param) bool { return x.Key == key }); i >= 0 {
			params[i].Value = v
			continue
		}
		if len(params) >= MaxDirectives {
			return nil, p.errf("more than %d parameters", MaxDirectives)
		}
		params = append(params, Param{Key: key, Value: v})
	}
	return params, nil
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

// key is RFC 9651 section 4.2.3.3.
func (p *sfParser) key() (string, error) {
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.errf("a key must start with a lowercase letter or *")
	}
	start := p.i
	for !p.eof() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

// bareItem is RFC 9651 section 4.2.3.1.
func (p *sfParser) bareItem() (BareItem, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		s, err := p.str()
		return BareItem{Kind: KindString, Str: s}, err
	case isAlpha(c) || c == '*':
		return BareItem{Kind: KindToken, Str: p.token()}, nil
	case c == ':':
		b, err := p.byteSequence()
		return BareItem{Kind: KindByteSequence, Bytes: b}, err
	case c == '?':
		return p.boolean()
	case c == '@':
		p.i++
		n, err := p.number()
		if err != nil {
			return BareItem{}, err
		}
		if n.Kind != KindInteger {
			return BareItem{}, p.errf("a date must be an integer")
		}
		return BareItem{Kind: KindDate, Int: n.Int}, nil
	case c == '%':
		s, err := p.displayString()
		return BareItem{Kind: KindDisplayString, Str: s}, err
	}
	return BareItem{}, p.errf("unexpected character %q", c)
}

// number is RFC 9651 section 4.2.4.
func (p *sfParser) number() (BareItem, error) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	if !isDigit(p.peek()) {
		return BareItem{}, p.errf("expected a digit")
	}
	start := p.i
	dot := -1
	for !p.eof() {
		c := p.s[p.i]
		if isDigit(c) {
			p.i++
		} else if c == '.' && dot < 0 {
			if p.i-start > 12 {
				return BareItem{}, p.errf("decimal integer part longer than 12 digits")
			}
			dot = p.i
			p.i++
		} else {
			break
		}
		if dot < 0 && p.i-start > 15 {
			return BareItem{}, p.errf("integer longer than 15 digits")
		}
		if dot >= 0 && p.i-start > 16 {
			return BareItem{}, p.errf("decimal longer than 16 characters")
		}
	}
	num := p.s[start:p.i]
	if dot < 0 {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return BareItem{}, p.errf("bad integer")
		}
		if neg {
			n = -n
		}
		return BareItem{Kind: KindInteger, Int: n}, nil
	}
	intPart, frac, _ := strings.Cut(num, ".")
	if frac == "" {
		return BareItem{}, p.errf("a decimal cannot end with a dot")
	}
	if len(frac) > 3 {
		return BareItem{}, p.errf("more than 3 fractional digits")
	}
	ip, err1 := strconv.ParseInt(intPart, 10, 64)
	fp, err2 := strconv.ParseInt(frac+strings.Repeat("0", 3-len(frac)), 10, 64)
	if err1 != nil || err2 != nil {
		return BareItem{}, p.errf("bad decimal")
	}
	n := ip*1000 + fp
	if neg {
		n = -n
	}
	return BareItem{Kind: KindDecimal, Int: n}, nil
}

// str is RFC 9651 section 4.2.5.
func (p *sfParser) str() (string, error) {
	p.i++ // '"'
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() {
				return "", p.errf("unterminated escape")
			}
			n := p.s[p.i]
			if n != '"' && n != '\\' {
				return "", p.errf("bad escape")
			}
			b.WriteByte(n)
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.errf("character out of range in a string")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errf("unterminated string")
}

func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// token is RFC 9651 section 4.2.6.
func (p *sfParser) token() string {
	start := p.i
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		if !isTchar(c) && c != ':' && c != '/' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// byteSequence is RFC 9651 section 4.2.7.
func (p *sfParser) byteSequence() ([]byte, error) {
	p.i++ // ':'
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return nil, p.errf("unterminated byte sequence")
	}
	enc := p.s[p.i : p.i+end]
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return nil, p.errf("bad base64 character")
		}
	}
	p.i += end + 1
	// Parsers may accept unpadded input (RFC 9651 section 4.2.7).
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
	}
	if err != nil {
		return nil, p.errf("bad base64")
	}
	return b, nil
}

// boolean is RFC 9651 section 4.2.8.
func (p *sfParser) boolean() (BareItem, error) {
	p.i++ // '?'
	switch p.peek() {
	case '1':
		p.i++
		return BareItem{Kind: KindBoolean, Bool: true}, nil
	case '0':
		p.i++
		return BareItem{Kind: KindBoolean, Bool: false}, nil
	}
	return BareItem{}, p.errf("a boolean is ?0 or ?1")
}

// displayString is RFC 9651 section 4.2.10.
func (p *sfParser) displayString() (string, error) {
	p.i++ // '%'
	if p.peek() != '"' {
		return "", p.errf("expected \" after %%")
	}
	p.i++
	var b []byte
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c < 0x20 || c > 0x7e:
			return "", p.errf("character out of range in a display string")
		case c == '%':
			if p.i+2 > len(p.s) {
				return "", p.errf("short percent escape")
			}
			h := p.s[p.i : p.i+2]
			if strings.ToLower(h) != h {
				return "", p.errf("percent escapes must be lowercase")
			}
			v, err := strconv.ParseUint(h, 16, 8)
			if err != nil {
				return "", p.errf("bad percent escape")
			}
			b = append(b, byte(v))
			p.i += 2
		case c == '"':
			if !utf8.Valid(b) {
				return "", p.errf("display string is not UTF-8")
			}
			return string(b), nil
		default:
			b = append(b, c)
		}
	}
	return "", p.errf("unterminated display string")
}

// String serializes the dictionary per RFC 9651 section 4.1.2.
func (d Dictionary) String() string {
	var b strings.Builder
	for i, m := range d {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Key)
		switch {
		case m.Inner:
			b.WriteString("=")
			writeInnerList(&b, m.List, m.Params)
		case m.Item.Bare.Kind == KindBoolean && m.Item.Bare.Bool:
			writeParams(&b, m.Item.Params)
		default:
			b.WriteString("=")
			writeItem(&b, m.Item)
		}
	}
	return b.String()
}

func writeInnerList(b *strings.Builder, list []Item, params []Param) {
	b.WriteString("(")
	for i, it := range list {
		if i > 0 {
			b.WriteString(" ")
		}
		writeItem(b, it)
	}
	b.WriteString(")")
	writeParams(b, params)
}

func writeItem(b *strings.Builder, it Item) {
	writeBare(b, it.Bare)
	writeParams(b, it.Params)
}

func writeParams(b *strings.Builder, params []Param) {
	for _, p := range params {
		b.WriteString(";")
		b.WriteString(p.Key)
		if p.Value.Kind == KindBoolean && p.Value.Bool {
			continue
		}
		b.WriteString("=")
		writeBare(b, p.Value)
	}
}

// ItemString serializes one bare item.
func (v BareItem) String() string {
	var b strings.Builder
	writeBare(&b, v)
	return b.String()
}

func writeBare(b *strings.Builder, v BareItem) {
	switch v.Kind {
	case KindInteger:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindDecimal:
		n := v.Int
		if n < 0 {
			b.WriteString("-")
			n = -n
		}
		frac := strings.TrimRight(fmt.Sprintf("%03d", n%1000), "0")
		if frac == "" {
			frac = "0"
		}
		fmt.Fprintf(b, "%d.%s", n/1000, frac)
	case KindString:
		b.WriteString(`"`)
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v.Str))
		b.WriteString(`"`)
	case KindToken:
		b.WriteString(v.Str)
	case KindByteSequence:
		b.WriteString(":" + base64.StdEncoding.EncodeToString(v.Bytes) + ":")
	case KindBoolean:
		if v.Bool {
			b.WriteString("?1")
		} else {
			b.WriteString("?0")
		}
	case KindDate:
		b.WriteString("@" + strconv.FormatInt(v.Int, 10))
	case KindDisplayString:
		b.WriteString(`%"`)
		for i := 0; i < len(v.Str); i++ {
			c := v.Str[i]
			if c == '%' || c == '"' || c < 0x20 || c > 0x7e {
				fmt.Fprintf(b, "%%%02x", c)
			} else {
				b.WriteByte(c)
			}
		}
		b.WriteString(`"`)
	}
}
