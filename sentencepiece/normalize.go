package sentencepiece

import (
	"strings"
	"unicode/utf8"
)

// normalize appends the normalized text to dst, following sentencepiece's
// Normalizer::Normalize with an empty charsmap (identity normalization): user-defined
// symbols pass through whole, each malformed UTF-8 byte becomes U+FFFD, spaces become
// U+2581, a dummy space is added in front (or at the end with
// treat_whitespace_as_suffix), and with remove_extra_whitespaces leading, trailing and
// repeated spaces are dropped.
func (e *encoder) normalize(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	if e.removeExtraWS {
		for s != "" {
			piece, n := e.normalizePrefix(s)
			if piece != " " {
				break
			}
			s = s[n:]
		}
		if s == "" {
			return dst
		}
	}
	start := len(dst)
	if !e.suffix && e.addDummyPrefix {
		dst = e.appendWS(dst)
	}
	prevSpace := e.removeExtraWS
	for s != "" {
		var piece string
		var n int
		if b := s[0]; b < utf8.RuneSelf && !e.user.first[b] {
			piece, n = s[:1], 1 // the common case, inlined
		} else {
			piece, n = e.normalizePrefix(s)
		}
		s = s[n:]
		if e.removeExtraWS {
			if prevSpace {
				piece = strings.TrimLeft(piece, " ")
			}
			if piece == "" {
				continue
			}
			prevSpace = piece[len(piece)-1] == ' '
		}
		switch {
		case !e.escapeWS:
			dst = append(dst, piece...)
		case len(piece) == 1 && piece[0] == ' ':
			dst = append(dst, spaceSymbol...)
		case len(piece) == 1:
			dst = append(dst, piece[0])
		default:
			for i := 0; i < len(piece); i++ {
				if piece[i] == ' ' {
					dst = append(dst, spaceSymbol...)
				} else {
					dst = append(dst, piece[i])
				}
			}
		}
	}
	if e.removeExtraWS {
		ws := " "
		if e.escapeWS {
			ws = spaceSymbol
		}
		for len(dst)-start >= len(ws) && string(dst[len(dst)-len(ws):]) == ws {
			dst = dst[:len(dst)-len(ws)]
		}
	}
	if e.suffix && e.addDummyPrefix {
		dst = e.appendWS(dst)
	}
	return dst
}

func (e *encoder) appendWS(dst []byte) []byte {
	if e.escapeWS {
		return append(dst, spaceSymbol...)
	}
	return append(dst, ' ')
}

// normalizePrefix is Normalizer::NormalizePrefix without a charsmap: the normalized form
// of the first character (or user-defined symbol) of s, and how many bytes it consumed.
func (e *encoder) normalizePrefix(s string) (string, int) {
	if n, _ := longestMatch(&e.user, s); n > 0 {
		return s[:n], n
	}
	if n, ok := validUTF8Rune(s); ok {
		return s[:n], n
	}
	return "\uFFFD", 1
}
