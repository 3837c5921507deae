package sentencepiece

import (
	"errors"
	"fmt"
	"math"
)

// PieceType is a piece's role in the vocabulary (sentencepiece's ModelProto.SentencePiece.Type).
type PieceType uint8

// The piece types, numbered as in sentencepiece_model.proto.
const (
	Normal      PieceType = 1 // an ordinary subword, produced by merges
	Unknown     PieceType = 2 // <unk>; exactly one per model
	Control     PieceType = 3 // <s>, </s>, <pad>: never produced from text, invisible when decoded
	UserDefined PieceType = 4 // always matched whole in the input, never merged further
	Unused      PieceType = 5 // merged through, then split back into its parts
	Byte        PieceType = 6 // <0xXX>, the byte-fallback pieces
)

func (t PieceType) String() string {
	switch t {
	case Normal:
		return "normal"
	case Unknown:
		return "unknown"
	case Control:
		return "control"
	case UserDefined:
		return "user-defined"
	case Unused:
		return "unused"
	case Byte:
		return "byte"
	}
	return fmt.Sprintf("PieceType(%d)", uint8(t))
}

// ModelType is TrainerSpec.model_type. Only BPE is implemented by Processor.
type ModelType int32

// The model types, numbered as in sentencepiece_model.proto.
const (
	Unigram ModelType = 1
	BPE     ModelType = 2
	Word    ModelType = 3
	Char    ModelType = 4
)

func (t ModelType) String() string {
	switch t {
	case Unigram:
		return "unigram"
	case BPE:
		return "bpe"
	case Word:
		return "word"
	case Char:
		return "char"
	}
	return fmt.Sprintf("ModelType(%d)", int32(t))
}

// Piece is one vocabulary entry; its id is its index in Model.Pieces.
type Piece struct {
	Piece string
	Score float32
	Type  PieceType
}

// TrainerSpec holds the training options that matter when encoding and decoding.
// Fields absent from the file hold sentencepiece's proto2 defaults.
type TrainerSpec struct {
	ModelType               ModelType
	VocabSize               int32
	ByteFallback            bool
	SplitDigits             bool
	TreatWhitespaceAsSuffix bool
	AllowWhitespaceOnly     bool // allow_whitespace_only_pieces
	UnkID, BOSID, EOSID     int32
	PadID                   int32
	UnkPiece, BOSPiece      string
	EOSPiece, PadPiece      string
	UnkSurface              string // what Decode prints for <unk>
}

// NormalizerSpec is sentencepiece's NormalizerSpec (also used for the denormalizer).
type NormalizerSpec struct {
	Name                   string
	PrecompiledCharsmap    []byte
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
}

// SelfTestSample is one entry of ModelProto.self_test_data: the input and the expected
// pieces joined by single spaces. sentencepiece refuses to load a model that fails them.
type SelfTestSample struct {
	Input, Expected string
}

// Model is the part of a SentencePiece ModelProto (tokenizer.model) that this package uses.
type Model struct {
	Pieces       []Piece
	Trainer      TrainerSpec
	Normalizer   NormalizerSpec
	Denormalizer *NormalizerSpec // nil when the file has none
	SelfTest     []SelfTestSample
}

func defaultTrainerSpec() TrainerSpec {
	return TrainerSpec{
		ModelType:  Unigram,
		VocabSize:  8000,
		UnkID:      0,
		BOSID:      1,
		EOSID:      2,
		PadID:      -1,
		UnkPiece:   "<unk>",
		BOSPiece:   "<s>",
		EOSPiece:   "</s>",
		PadPiece:   "<pad>",
		UnkSurface: " \u2047 ",
	}
}

func defaultNormalizerSpec() NormalizerSpec {
	return NormalizerSpec{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}
}

// ParseModel decodes a serialized ModelProto.
//
// The protobuf wire format is read by hand rather than through a protobuf library: the
// module takes no dependencies outside the standard library, we need a dozen scalar fields
// of a schema that has not changed in years, and a reader of just those fields is ~150
// lines that are easy to make robust (every length is checked against the buffer, so bad
// input gives an error, never a panic or a huge allocation). Unknown fields are skipped, as
// protobuf requires. Proto2 semantics are kept where they can change behaviour: absent
// fields take the schema's defaults, a repeated occurrence of a scalar overwrites the
// earlier one, a repeated occurrence of a sub-message is merged into it, and an enum value
// outside the schema is ignored (proto2 enums are closed).
func ParseModel(data []byte) (*Model, error) {
	m := &Model{Trainer: defaultTrainerSpec(), Normalizer: defaultNormalizerSpec()}
	err := walk(data, func(num int, v value) error {
		switch num {
		case 1: // pieces
			b, err := v.bytes("pieces")
			if err != nil {
				return err
			}
			p := Piece{Type: Normal}
			if err := parsePiece(b, &p); err != nil {
				return fmt.Errorf("piece %d: %w", len(m.Pieces), err)
			}
			m.Pieces = append(m.Pieces, p)
		case 2: // trainer_spec
			b, err := v.bytes("trainer_spec")
			if err != nil {
				return err
			}
			if err := parseTrainerSpec(b, &m.Trainer); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
		case 3: // normalizer_spec
			b, err := v.bytes("normalizer_spec")
			if err != nil {
				return err
			}
			if err := parseNormalizerSpec(b, &m.Normalizer); err != nil {
				return fmt.Errorf("normalizer_spec: %w", err)
			}
		case 4: // self_test_data
			b, err := v.bytes("self_test_data")
			if err != nil {
				return err
			}
			if err := parseSelfTest(b, &m.SelfTest); err != nil {
				return fmt.Errorf("self_test_data: %w", err)
			}
		case 5: // denormalizer_spec
			b, err := v.bytes("denormalizer_spec")
			if err != nil {
				return err
			}
			if m.Denormalizer == nil {
				d := defaultNormalizerSpec()
				m.Denormalizer = &d
			}
			if err := parseNormalizerSpec(b, m.Denormalizer); err != nil {
				return fmt.Errorf("denormalizer_spec: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: malformed model: %w", err)
	}
	return m, nil
}

func parsePiece(data []byte, p *Piece) error {
	return walk(data, func(num int, v value) error {
		var err error
		switch num {
		case 1:
			p.Piece, err = v.str("piece")
		case 2:
			p.Score, err = v.float32("score")
		case 3:
			var t int32
			if t, err = v.int32("type"); err == nil && t >= int32(Normal) && t <= int32(Byte) {
				p.Type = PieceType(t)
			}
		}
		return err
	})
}

func parseTrainerSpec(data []byte, s *TrainerSpec) error {
	return walk(data, func(num int, v value) error {
		var err error
		switch num {
		case 3:
			var t int32
			if t, err = v.int32("model_type"); err == nil && t >= int32(Unigram) && t <= int32(Char) {
				s.ModelType = ModelType(t)
			}
		case 4:
			s.VocabSize, err = v.int32("vocab_size")
		case 24:
			s.TreatWhitespaceAsSuffix, err = v.bool("treat_whitespace_as_suffix")
		case 25:
			s.SplitDigits, err = v.bool("split_digits")
		case 26:
			s.AllowWhitespaceOnly, err = v.bool("allow_whitespace_only_pieces")
		case 35:
			s.ByteFallback, err = v.bool("byte_fallback")
		case 40:
			s.UnkID, err = v.int32("unk_id")
		case 41:
			s.BOSID, err = v.int32("bos_id")
		case 42:
			s.EOSID, err = v.int32("eos_id")
		case 43:
			s.PadID, err = v.int32("pad_id")
		case 44:
			s.UnkSurface, err = v.str("unk_surface")
		case 45:
			s.UnkPiece, err = v.str("unk_piece")
		case 46:
			s.BOSPiece, err = v.str("bos_piece")
		case 47:
			s.EOSPiece, err = v.str("eos_piece")
		case 48:
			s.PadPiece, err = v.str("pad_piece")
		}
		return err
	})
}

func parseNormalizerSpec(data []byte, s *NormalizerSpec) error {
	return walk(data, func(num int, v value) error {
		var err error
		switch num {
		case 1:
			s.Name, err = v.str("name")
		case 2:
			var b []byte
			if b, err = v.bytes("precompiled_charsmap"); err == nil {
				s.PrecompiledCharsmap = append([]byte(nil), b...)
			}
		case 3:
			s.AddDummyPrefix, err = v.bool("add_dummy_prefix")
		case 4:
			s.RemoveExtraWhitespaces, err = v.bool("remove_extra_whitespaces")
		case 5:
			s.EscapeWhitespaces, err = v.bool("escape_whitespaces")
		}
		return err
	})
}

func parseSelfTest(data []byte, samples *[]SelfTestSample) error {
	return walk(data, func(num int, v value) error {
		if num != 1 {
			return nil
		}
		b, err := v.bytes("samples")
		if err != nil {
			return err
		}
		var s SelfTestSample
		err = walk(b, func(num int, v value) error {
			var err error
			switch num {
			case 1:
				s.Input, err = v.str("input")
			case 2:
				s.Expected, err = v.str("expected")
			}
			return err
		})
		if err != nil {
			return err
		}
		*samples = append(*samples, s)
		return nil
	})
}

// Wire types of the protobuf encoding.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// value is one field's payload: the varint or fixed-width number in n, or the
// length-delimited contents in b.
type value struct {
	wire int
	n    uint64
	b    []byte
}

func (v value) want(wire int, field string) error {
	if v.wire != wire {
		return fmt.Errorf("field %s has wire type %d, want %d", field, v.wire, wire)
	}
	return nil
}

func (v value) bytes(field string) ([]byte, error) { return v.b, v.want(wireBytes, field) }

func (v value) str(field string) (string, error) { return string(v.b), v.want(wireBytes, field) }

func (v value) bool(field string) (bool, error) { return v.n != 0, v.want(wireVarint, field) }

// int32 follows protobuf: negative int32 values are sign-extended to 64 bits on the wire,
// and a wider value is truncated.
func (v value) int32(field string) (int32, error) { return int32(v.n), v.want(wireVarint, field) }

func (v value) float32(field string) (float32, error) {
	return math.Float32frombits(uint32(v.n)), v.want(wireFixed32, field)
}

var errTruncated = errors.New("truncated input")

// maxGroupDepth bounds the nesting of (deprecated) groups we skip over, so that hostile
// input cannot recurse without limit.
const maxGroupDepth = 64

// walk calls fn for every field of the message encoded in data, in order.
func walk(data []byte, fn func(num int, v value) error) error {
	for len(data) > 0 {
		num, v, rest, err := readField(data, 0)
		if err != nil {
			return err
		}
		data = rest
		if v.wire == wireStartGroup {
			continue // an unknown group, already skipped
		}
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// readField reads one field. A group (wire type 3) is skipped whole, up to its end marker.
func readField(data []byte, depth int) (num int, v value, rest []byte, err error) {
	key, data, err := readVarint(data)
	if err != nil {
		return 0, v, nil, err
	}
	if key>>3 == 0 || key>>3 > math.MaxInt32 {
		return 0, v, nil, fmt.Errorf("invalid field number %d", key>>3)
	}
	num, v.wire = int(key>>3), int(key&7)
	switch v.wire {
	case wireVarint:
		v.n, data, err = readVarint(data)
	case wireFixed64:
		if len(data) < 8 {
			return 0, v, nil, errTruncated
		}
		for i := 7; i >= 0; i-- {
			v.n = v.n<<8 | uint64(data[i])
		}
		data = data[8:]
	case wireFixed32:
		if len(data) < 4 {
			return 0, v, nil, errTruncated
		}
		v.n = uint64(data[0]) | uint64(data[1])<<8 | uint64(data[2])<<16 | uint64(data[3])<<24
		data = data[4:]
	case wireBytes:
		var n uint64
		if n, data, err = readVarint(data); err != nil {
			return 0, v, nil, err
		}
		if n > uint64(len(data)) {
			return 0, v, nil, fmt.Errorf("field %d: length %d exceeds the %d bytes left", num, n, len(data))
		}
		v.b, data = data[:n:n], data[n:]
	case wireStartGroup:
		if depth >= maxGroupDepth {
			return 0, v, nil, errors.New("groups nested too deeply")
		}
		for {
			var inner int
			var iv value
			if inner, iv, data, err = readField(data, depth+1); err != nil {
				return 0, v, nil, err
			}
			if iv.wire == wireEndGroup {
				if inner != num {
					return 0, v, nil, fmt.Errorf("group %d closed by %d", num, inner)
				}
				break
			}
		}
	case wireEndGroup:
		if depth == 0 {
			return 0, v, nil, fmt.Errorf("unexpected end of group %d", num)
		}
	default:
		return 0, v, nil, fmt.Errorf("field %d: invalid wire type %d", num, v.wire)
	}
	return num, v, data, err
}

func readVarint(data []byte) (uint64, []byte, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		if i >= len(data) {
			return 0, nil, errTruncated
		}
		b := data[i]
		if i == 9 && b > 1 {
			return 0, nil, errors.New("varint overflows 64 bits")
		}
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x, data[i+1:], nil
		}
	}
	return 0, nil, errors.New("varint longer than 10 bytes")
}
