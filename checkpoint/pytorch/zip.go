package pytorch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// We read the zip structure ourselves rather than through archive/zip: we need where each
// member's bytes lie in the mapping (archive/zip hides the local header offset), we never
// decompress, and every length the archive states is checked against the bytes that are there.

// zipEntry is one member of the archive, as its central directory and local header describe it.
type zipEntry struct {
	name   string
	method uint16 // 0: stored
	flags  uint16
	csize  uint64 // compressed size, the bytes on disk
	usize  uint64 // uncompressed size
	header uint64 // offset of the local file header
}

const (
	sigLocal         = 0x04034b50
	sigCentral       = 0x02014b50
	sigEnd           = 0x06054b50
	sigEnd64         = 0x06064b50
	sigEnd64Locator  = 0x07064b50
	endLen           = 22
	end64LocatorLen  = 20
	end64Len         = 56
	centralHeaderLen = 46
	localHeaderLen   = 30
	zip64ExtraID     = 0x0001
	maxZipCommentLen = 0xffff
	flagEncrypted    = 1 << 0
	methodStored     = 0
	methodDeflate    = 8
)

// readZipDirectory lists the members of the zip archive b.
func readZipDirectory(b []byte) ([]zipEntry, error) {
	end := findEnd(b)
	if end < 0 {
		return nil, errors.New("no zip end-of-central-directory record (not a zip archive, or truncated)")
	}
	le := binary.LittleEndian
	count := uint64(le.Uint16(b[end+10:]))
	size := uint64(le.Uint32(b[end+12:]))
	offset := uint64(le.Uint32(b[end+16:]))
	dirEnd := uint64(end) // where the central directory must stop

	// A zip64 archive (torch writes one past 4 GiB) keeps the true values in a second record,
	// found through a locator just before the classic one.
	if loc := end - end64LocatorLen; loc >= 0 && le.Uint32(b[loc:]) == sigEnd64Locator {
		rec := le.Uint64(b[loc+8:])
		if rec > uint64(loc) || uint64(loc)-rec < end64Len || le.Uint32(b[rec:]) != sigEnd64 {
			return nil, errors.New("zip64 end-of-central-directory record is missing or out of place")
		}
		count = le.Uint64(b[rec+32:])
		size = le.Uint64(b[rec+40:])
		offset = le.Uint64(b[rec+48:])
		dirEnd = rec
	}
	if offset > dirEnd || size > dirEnd-offset {
		return nil, fmt.Errorf("zip central directory (%d bytes at offset %d) lies outside the file", size, offset)
	}
	if count > size/centralHeaderLen {
		return nil, fmt.Errorf("zip central directory claims %d entries in %d bytes", count, size)
	}

	dir := b[offset : offset+size]
	entries := make([]zipEntry, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(dir) < centralHeaderLen || le.Uint32(dir) != sigCentral {
			return nil, fmt.Errorf("zip central directory entry %d is corrupt", i)
		}
		nameLen := int(le.Uint16(dir[28:]))
		extraLen := int(le.Uint16(dir[30:]))
		commentLen := int(le.Uint16(dir[32:]))
		if len(dir) < centralHeaderLen+nameLen+extraLen+commentLen {
			return nil, fmt.Errorf("zip central directory entry %d is truncated", i)
		}
		e := zipEntry{
			name:   string(dir[centralHeaderLen : centralHeaderLen+nameLen]),
			flags:  le.Uint16(dir[8:]),
			method: le.Uint16(dir[10:]),
			csize:  uint64(le.Uint32(dir[20:])),
			usize:  uint64(le.Uint32(dir[24:])),
			header: uint64(le.Uint32(dir[42:])),
		}
		extra := dir[centralHeaderLen+nameLen : centralHeaderLen+nameLen+extraLen]
		if err := e.readZip64Extra(extra); err != nil {
			return nil, fmt.Errorf("zip entry %s: %v", quote(e.name), err)
		}
		entries = append(entries, e)
		dir = dir[centralHeaderLen+nameLen+extraLen+commentLen:]
	}
	return entries, nil
}

// findEnd returns the offset of the end-of-central-directory record, or -1. The record ends the
// file, followed only by an archive comment of up to 64 KiB.
func findEnd(b []byte) int {
	stop := max(0, len(b)-endLen-maxZipCommentLen)
	for i := len(b) - endLen; i >= stop; i-- {
		if binary.LittleEndian.Uint32(b[i:]) == sigEnd &&
			int(binary.LittleEndian.Uint16(b[i+20:])) == len(b)-i-endLen {
			return i
		}
	}
	return -1
}

// readZip64Extra replaces the sizes and offset that the central directory saturated at
// 0xffffffff by the 64-bit values of the zip64 extra field, which holds them in this order.
func (e *zipEntry) readZip64Extra(extra []byte) error {
	le := binary.LittleEndian
	for len(extra) >= 4 {
		id, n := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if len(extra) < 4+n {
			return errors.New("extra field is truncated")
		}
		field := extra[4 : 4+n]
		extra = extra[4+n:]
		if id != zip64ExtraID {
			continue
		}
		for _, v := range []*uint64{&e.usize, &e.csize, &e.header} {
			if *v != 0xffffffff {
				continue
			}
			if len(field) < 8 {
				return errors.New("zip64 extra field is truncated")
			}
			*v = le.Uint64(field)
			field = field[8:]
		}
	}
	return nil
}

// storedBytes returns the bytes of a stored (uncompressed) member, in place.
func storedBytes(b []byte, e *zipEntry) ([]byte, error) {
	if e.flags&flagEncrypted != 0 {
		return nil, fmt.Errorf("zip entry %s is encrypted", quote(e.name))
	}
	if e.method != methodStored {
		how := fmt.Sprintf("compression method %d", e.method)
		if e.method == methodDeflate {
			how = "deflate"
		}
		return nil, fmt.Errorf("zip entry %s is compressed (%s); torch.save stores entries uncompressed so "+
			"that they can be mapped: re-save the checkpoint with torch.save, not re-zipped", quote(e.name), how)
	}
	if e.csize != e.usize {
		return nil, fmt.Errorf("zip entry %s is stored but its sizes differ (%d and %d bytes)", quote(e.name), e.csize, e.usize)
	}
	le := binary.LittleEndian
	h := e.header
	if h > uint64(len(b)) || uint64(len(b))-h < localHeaderLen || le.Uint32(b[h:]) != sigLocal {
		return nil, fmt.Errorf("zip entry %s: no local header at offset %d", quote(e.name), h)
	}
	nameLen := uint64(le.Uint16(b[h+26:]))
	extraLen := uint64(le.Uint16(b[h+28:]))
	start := h + localHeaderLen + nameLen + extraLen
	if start > uint64(len(b)) || e.csize > uint64(len(b))-start {
		return nil, fmt.Errorf("zip entry %s (%d bytes at offset %d) runs past the end of the file (%d bytes)",
			quote(e.name), e.csize, start, len(b))
	}
	if string(b[h+localHeaderLen:h+localHeaderLen+nameLen]) != e.name {
		return nil, fmt.Errorf("zip entry %s: local header names %s", quote(e.name),
			quote(string(b[h+localHeaderLen:h+localHeaderLen+nameLen])))
	}
	return b[start : start+e.csize : start+e.csize], nil
}
