package policy

import (
	"strings"
	"unicode"
)

// Keyword is the meaning of an inbound message for the opt-out list.
type Keyword int

// Keywords an inbound message can carry.
const (
	// NoKeyword is any other message; it changes nothing.
	NoKeyword Keyword = iota
	// KeywordStop opts the sender out of every message.
	KeywordStop
	// KeywordStart opts the sender back in.
	KeywordStart
)

func (k Keyword) String() string {
	switch k {
	case KeywordStop:
		return "stop"
	case KeywordStart:
		return "start"
	}
	return "none"
}

// stopWords and startWords are compared after normalise: upper case,
// without spaces.
var (
	stopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
	startWords = []string{"START", "UNSTOP"}
)

// maxKeywordLen bounds the text worth normalising: a longer message is a
// sentence, not a keyword.
const maxKeywordLen = 64

// MatchKeyword reads an inbound text as a whole: "stop", " Stop ", "OPT
// OUT" and "opt-out." are all KeywordStop. Case, spaces, and punctuation
// around or inside the word are ignored; any other word in the text makes
// it an ordinary message, so "don't stop" is NoKeyword.
func MatchKeyword(text string) Keyword {
	if len(text) > maxKeywordLen {
		return NoKeyword
	}
	w := normalise(text)
	switch {
	case w == "":
		return NoKeyword
	case contains(stopWords, w):
		return KeywordStop
	case contains(startWords, w):
		return KeywordStart
	}
	return NoKeyword
}

// normalise upper-cases the letters of text and drops spaces and
// punctuation. Anything else, such as a digit or a symbol, is kept so that
// it prevents a match.
func normalise(text string) string {
	var b strings.Builder
	for _, r := range text {
		switch {
		case unicode.IsSpace(r), unicode.IsPunct(r):
			continue
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}
