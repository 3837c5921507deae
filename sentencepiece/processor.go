// Package sentencepiece encodes text to token ids and back exactly as Google's sentencepiece
// (0.2.x) does for BPE models with identity normalization, such as the tokenizer.model of
// NVIDIA Minitron and Nemotron checkpoints.
//
// Every rule follows sentencepiece's C++ sources (bpe_model.cc, model_interface.cc,
// normalizer.cc, sentencepiece_processor.cc), odd ones included, because ids must be the
// ones the model was trained on. Models it cannot reproduce exactly (unigram, word and char
// models, normalization charsmaps) are refused when loaded rather than tokenized nearly.
package sentencepiece

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// spaceSymbol (U+2581 LOWER ONE EIGHTH BLOCK) stands for a space inside pieces.
const spaceSymbol = "\u2581"

// Processor encodes and decodes with one BPE model. It is safe for concurrent use.
type Processor struct {
	model *Model

	pieces []string    // id -> piece
	scores []float32   // id -> score
	types  []PieceType // id -> type

	// pieceIDs answers PieceToID the way sentencepiece does: control, unknown and byte
	// pieces ("reserved") take precedence over the others when a string is both.
	pieceIDs map[string]int32
	// mergeIDs holds only the pieces BPE may produce (normal, user-defined, unused),
	// which is what bpe_model.cc searches when it considers a merge.
	mergeIDs map[string]int32

	// unk is the model's unknown piece, which PieceToID falls back to; unkID, bos, eos
	// and pad are what UNK(), BOS(), EOS() and PAD() report (-1 when absent).
	unk, unkID, bos, eos, pad int32
	byteIDs                   [256]int32 // <0xXX> ids when byte fallback is on

	// Decoding tables, per id: the piece with U+2581 already turned into spaces, and
	// whether the piece starts with U+2581 (the dummy prefix Decode may strip).
	surfaces   []string
	leadingWS  []bool
	decodeType []PieceType // type of PieceToID(IDToPiece(id)), which Decode really uses
	byteValue  []int16     // the byte of a byte piece, else -1

	enc encoder

	scratch sync.Pool // *encodeState
}

// Load reads and parses a tokenizer.model file.
func Load(path string) (*Processor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse parses a serialized ModelProto and builds a Processor from it.
func Parse(data []byte) (*Processor, error) {
	m, err := ParseModel(data)
	if err != nil {
		return nil, err
	}
	return NewProcessor(m)
}

// NewProcessor checks that m is a model this package implements exactly, the way
// sentencepiece's ModelInterface::InitializePieces checks it, builds the lookup tables, and
// runs the model's own self-test samples, as SentencePieceProcessor::Load does.
func NewProcessor(m *Model) (*Processor, error) {
	if err := supported(m); err != nil {
		return nil, err
	}
	n := len(m.Pieces)
	if n == 0 {
		return nil, fmt.Errorf("sentencepiece: model has no pieces")
	}
	if n > math.MaxInt32/2 {
		return nil, fmt.Errorf("sentencepiece: model has %d pieces, too many", n)
	}
	p := &Processor{
		model:      m,
		pieces:     make([]string, n),
		scores:     make([]float32, n),
		types:      make([]PieceType, n),
		pieceIDs:   make(map[string]int32, n),
		mergeIDs:   make(map[string]int32, n),
		surfaces:   make([]string, n),
		leadingWS:  make([]bool, n),
		decodeType: make([]PieceType, n),
		byteValue:  make([]int16, n),
		unk:        -1,
	}
	reserved := make(map[string]int32)
	var byteFound [256]bool
	for i, pc := range m.Pieces {
		id := int32(i)
		if pc.Piece == "" {
			return nil, fmt.Errorf("sentencepiece: piece %d is empty", i)
		}
		p.pieces[i], p.scores[i], p.types[i] = pc.Piece, pc.Score, pc.Type
		p.byteValue[i] = -1
		table := reserved
		if mergeable(pc.Type) {
			table = p.mergeIDs
		}
		if _, dup := table[pc.Piece]; dup {
			return nil, fmt.Errorf("sentencepiece: piece %d %q is already defined", i, pc.Piece)
		}
		table[pc.Piece] = id
		switch pc.Type {
		case UserDefined:
			// sentencepiece matches user-defined symbols with a trie of NUL-terminated
			// strings and passes them through normalization raw; we reproduce that only
			// for symbols that are NUL-free UTF-8, which every real model's are.
			if !utf8.ValidString(pc.Piece) || strings.IndexByte(pc.Piece, 0) >= 0 {
				return nil, fmt.Errorf("sentencepiece: user-defined piece %d %q is not NUL-free UTF-8 (not supported)", i, pc.Piece)
			}
		case Unknown:
			if p.unk >= 0 {
				return nil, fmt.Errorf("sentencepiece: second unknown piece %d %q (first is %d)", i, pc.Piece, p.unk)
			}
			p.unk = id
		case Byte:
			if !m.Trainer.ByteFallback {
				return nil, fmt.Errorf("sentencepiece: byte piece %d %q found although byte_fallback is false", i, pc.Piece)
			}
			b, ok := pieceToByte(pc.Piece)
			if !ok {
				return nil, fmt.Errorf("sentencepiece: byte piece %d %q is invalid", i, pc.Piece)
			}
			byteFound[b] = true
			p.byteIDs[b] = id
			p.byteValue[i] = int16(b)
		}
	}
	if p.unk < 0 {
		return nil, fmt.Errorf("sentencepiece: model has no unknown piece")
	}
	if m.Trainer.ByteFallback {
		for b, ok := range byteFound {
			if !ok {
				return nil, fmt.Errorf("sentencepiece: byte_fallback is on but there is no piece <0x%02X>", b)
			}
		}
	}
	for s, id := range p.mergeIDs {
		p.pieceIDs[s] = id
	}
	for s, id := range reserved {
		p.pieceIDs[s] = id
	}

	// Special ids are found by piece, not by the trainer_spec ids, as
	// SentencePieceProcessor::bos_id() and friends do.
	p.bos = p.specialID(m.Trainer.BOSPiece, "<s>", Control)
	p.eos = p.specialID(m.Trainer.EOSPiece, "</s>", Control)
	p.pad = p.specialID(m.Trainer.PadPiece, "<pad>", Control)
	p.unkID = p.specialID(m.Trainer.UnkPiece, "<unk>", Unknown)

	for i, s := range p.pieces {
		p.surfaces[i] = strings.ReplaceAll(s, spaceSymbol, " ")
		p.leadingWS[i] = strings.HasPrefix(s, spaceSymbol)
		p.decodeType[i] = p.types[p.PieceToID(s)]
		if p.decodeType[i] == Byte {
			b, _ := pieceToByte(s) // s is the text of a byte piece, so it parses
			p.byteValue[i] = int16(b)
		}
	}

	p.enc.init(p)
	p.scratch.New = func() any { return new(encodeState) }

	for _, s := range m.SelfTest {
		got := strings.Join(p.EncodePieces(s.Input), " ")
		if got != s.Expected {
			return nil, fmt.Errorf("sentencepiece: model self-test failed: %q encodes to %q, want %q", s.Input, got, s.Expected)
		}
	}
	return p, nil
}

// supported refuses what this package does not reproduce exactly.
func supported(m *Model) error {
	if m.Trainer.ModelType != BPE {
		return fmt.Errorf("sentencepiece: model type %v is not supported (only bpe)", m.Trainer.ModelType)
	}
	// sentencepiece normalizes with the precompiled charsmap alone; the name is a label.
	// An empty map is the identity normalization, which is all we implement.
	if len(m.Normalizer.PrecompiledCharsmap) > 0 {
		return fmt.Errorf("sentencepiece: normalizer %q with a precompiled charsmap is not supported (only identity)", m.Normalizer.Name)
	}
	if d := m.Denormalizer; d != nil && len(d.PrecompiledCharsmap) > 0 {
		return fmt.Errorf("sentencepiece: denormalizer %q with a precompiled charsmap is not supported", d.Name)
	}
	return nil
}

// mergeable reports whether pieces of type t live in bpe_model.cc's merge table.
func mergeable(t PieceType) bool { return t == Normal || t == UserDefined || t == Unused }

func (p *Processor) specialID(piece, def string, want PieceType) int32 {
	if piece == "" {
		piece = def
	}
	id := p.PieceToID(piece)
	if p.types[id] != want {
		return -1
	}
	return id
}

// pieceToByte parses "<0xXX>" with exactly two upper-case hex digits, the only spelling
// sentencepiece's PieceToByte accepts.
func pieceToByte(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range []byte(s[3:5]) {
		switch {
		case '0' <= c && c <= '9':
			b = b<<4 | (c - '0')
		case 'A' <= c && c <= 'F':
			b = b<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}

// Model returns the parsed model the processor was built from. Callers must not modify it.
func (p *Processor) Model() *Model { return p.model }

// VocabSize is the number of pieces; valid ids are 0 through VocabSize()-1.
func (p *Processor) VocabSize() int { return len(p.pieces) }

// PieceToID returns the id of piece or, as sentencepiece does, the unknown id when the
// vocabulary has no such piece.
func (p *Processor) PieceToID(piece string) int32 {
	if id, ok := p.pieceIDs[piece]; ok {
		return id
	}
	return p.unk
}

// Lookup returns the id of piece and whether the vocabulary has it.
func (p *Processor) Lookup(piece string) (int32, bool) {
	id, ok := p.pieceIDs[piece]
	return id, ok
}

// IDToPiece returns the piece with the given id, or "" for an id out of range.
func (p *Processor) IDToPiece(id int32) string {
	if id < 0 || int(id) >= len(p.pieces) {
		return ""
	}
	return p.pieces[id]
}

// Type returns the type of the piece with the given id, or 0 for an id out of range.
func (p *Processor) Type(id int32) PieceType {
	if id < 0 || int(id) >= len(p.types) {
		return 0
	}
	return p.types[id]
}

// Score returns the score of the piece with the given id (higher merges first), or 0
// for an id out of range.
func (p *Processor) Score(id int32) float32 {
	if id < 0 || int(id) >= len(p.scores) {
		return 0
	}
	return p.scores[id]
}

// BOS returns the id of the beginning-of-sentence piece, or -1 if the model has none.
func (p *Processor) BOS() int32 { return p.bos }

// EOS returns the id of the end-of-sentence piece, or -1 if the model has none.
func (p *Processor) EOS() int32 { return p.eos }

// PAD returns the id of the padding piece, or -1 if the model has none.
func (p *Processor) PAD() int32 { return p.pad }

// UNK returns the id of the unknown piece, or -1 if the model's unk_piece is not its
// unknown piece.
func (p *Processor) UNK() int32 { return p.unkID }

// validUTF8Rune reports whether s starts with a rune sentencepiece's DecodeUTF8 accepts,
// and its length (1 when invalid). Go's decoder rejects exactly what sentencepiece rejects
// (bad continuation bytes, overlong forms, surrogates, > U+10FFFF); a literal U+FFFD is valid.
func validUTF8Rune(s string) (int, bool) {
	r, n := utf8.DecodeRuneInString(s)
	return n, r != utf8.RuneError || n > 1
}
