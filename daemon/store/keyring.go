package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Files the store keeps beside Badger's. Deleting a record from Badger
// leaves old versions in its append-only files until compaction, so the
// sensitive part of each message is sealed with a key of its own kept in
// keyFile, where deletion is real: erasing a message overwrites its slot in
// place and syncs the file (crypto-erasure).
const (
	keyFile   = "message-keys"
	indexFile = "recipient-index.key"
	slotSize  = 32
)

// ErrKeyErased is returned when a message's key was already destroyed.
var ErrKeyErased = errors.New("message key erased")

// keyring holds one AES-256 key per live message in fixed-size slots. Slot
// n (1-based, so that 0 means none) is bytes [(n-1)*32, n*32) of the file; an
// all-zero slot is free. It is safe for concurrent use.
type keyring struct {
	mu   sync.Mutex
	f    *os.File // nil in memory
	mem  [][slotSize]byte
	free []uint32
	// pending are slots handed out whose message is not committed yet; the
	// sweep leaves them alone.
	pending map[uint32]bool
	// gen counts the allocations of each slot, so that a sweep never
	// erases a slot reallocated since it looked.
	gen map[uint32]uint64
	// isFree mirrors free, so that freeing a slot twice is harmless.
	isFree map[uint32]bool
	// erasing are slots whose message turned terminal: they are wiped,
	// then their erasure markers deleted, and only then freed. The sweep
	// leaves them alone and alloc cannot hand them out.
	erasing map[uint32]bool
	n       uint32

	// ready are slots with a synced key waiting to be used (alloc).
	ready []readyKey
	// written counts keys written; synced those covered by an fsync.
	written uint64
	synced  uint64
}

func openKeyring(dir string) (*keyring, error) {
	k := &keyring{pending: map[uint32]bool{}, gen: map[uint32]uint64{}, isFree: map[uint32]bool{}, erasing: map[uint32]bool{}}
	if dir == "" {
		return k, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, keyFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open key file: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: read key file: %w", err)
	}
	k.f = f
	k.n = uint32(len(data) / slotSize)
	var zero [slotSize]byte
	for i := range k.n {
		if [slotSize]byte(data[i*slotSize:(i+1)*slotSize]) == zero {
			k.free = append(k.free, i+1)
			k.isFree[i+1] = true
		}
	}
	return k, nil
}

// close wipes the keys written ahead but never used, so that the file
// holds only the keys of stored messages, and closes it.
func (k *keyring) close() error {
	k.mu.Lock()
	unused := make([]uint32, len(k.ready))
	for i, r := range k.ready {
		unused[i] = r.slot
	}
	k.ready = nil
	k.mu.Unlock()
	if err := k.erase(unused...); err != nil {
		return err
	}
	if k.f == nil {
		return nil
	}
	return k.f.Close()
}

// keyBatch is how many keys one fsync makes durable ahead of use.
const keyBatch = 64

// alloc hands out a slot holding a fresh random key that is already on
// disk, marked pending until commit or release. The message that uses a key
// is committed with a synced Badger write, so its key must be durable first:
// after a power cut a message whose key was lost could not be read. Keys
// are written and synced in batches ahead of use, so an accept rarely waits
// for an fsync of its own. Keys of a batch left unused by a crash belong to
// no message; the key sweep erases them.
func (k *keyring) alloc() (uint32, []byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ready) == 0 {
		if err := k.refillLocked(); err != nil {
			return 0, nil, err
		}
	}
	r := k.ready[len(k.ready)-1]
	k.ready = k.ready[:len(k.ready)-1]
	k.gen[r.slot]++
	return r.slot, r.key[:], nil
}

// readyKey is a slot whose key is written and synced but not yet used.
type readyKey struct {
	slot uint32
	key  [slotSize]byte
}

func (k *keyring) refillLocked() error {
	batch := make([]readyKey, 0, keyBatch)
	for range keyBatch {
		var r readyKey
		if _, err := rand.Read(r.key[:]); err != nil {
			return err
		}
		if n := len(k.free); n > 0 {
			r.slot, k.free = k.free[n-1], k.free[:n-1]
			delete(k.isFree, r.slot)
		} else {
			k.n++
			r.slot = k.n
		}
		// Pending until used and committed: the sweep leaves it alone.
		k.pending[r.slot] = true
		batch = append(batch, r)
		if err := k.writeLocked(r.slot, r.key); err != nil {
			for _, b := range batch {
				k.releaseLocked(b.slot)
			}
			return err
		}
	}
	if k.f != nil {
		if err := k.f.Sync(); err != nil {
			for _, b := range batch {
				k.releaseLocked(b.slot)
			}
			return fmt.Errorf("store: sync key file: %w", err)
		}
	}
	k.ready = append(k.ready, batch...)
	k.written += uint64(len(batch))
	k.synced = k.written
	return nil
}

// committed clears the pending mark of slot.
func (k *keyring) committed(slot uint32) {
	k.mu.Lock()
	delete(k.pending, slot)
	k.mu.Unlock()
}

// get returns the key in slot, or ErrKeyErased.
func (k *keyring) get(slot uint32) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if slot == 0 || slot > k.n {
		return nil, ErrKeyErased
	}
	var key [slotSize]byte
	if k.f == nil {
		key = k.mem[slot-1]
	} else if _, err := k.f.ReadAt(key[:], int64(slot-1)*slotSize); err != nil {
		return nil, fmt.Errorf("store: read key slot: %w", err)
	}
	if key == ([slotSize]byte{}) {
		return nil, ErrKeyErased
	}
	return key[:], nil
}

// erase overwrites the slots with zeros, syncs the file and frees them.
// It is for slots no erasure marker refers to.
func (k *keyring) erase(slots ...uint32) error {
	if err := k.wipe(slots...); err != nil {
		return err
	}
	k.release(slots...)
	return nil
}

// wipe overwrites the slots with zeros and syncs the file, without freeing
// them.
func (k *keyring) wipe(slots ...uint32) error {
	if len(slots) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, slot := range slots {
		if slot == 0 || slot > k.n {
			continue
		}
		if err := k.writeLocked(slot, [slotSize]byte{}); err != nil {
			return err
		}
	}
	if k.f != nil {
		if err := k.f.Sync(); err != nil {
			return fmt.Errorf("store: sync key file: %w", err)
		}
	}
	return nil
}

// markErasing takes slots out of circulation until release: no sweep erases
// them and no allocation hands them out, even if they read as zeros.
func (k *keyring) markErasing(slots ...uint32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, slot := range slots {
		if slot == 0 || slot > k.n {
			continue
		}
		k.erasing[slot] = true
		if k.isFree[slot] {
			delete(k.isFree, slot)
			k.free = slices.DeleteFunc(k.free, func(s uint32) bool { return s == slot })
		}
	}
}

// release frees the slots; freeing a free slot does nothing.
func (k *keyring) release(slots ...uint32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, slot := range slots {
		k.releaseLocked(slot)
	}
}

func (k *keyring) releaseLocked(slot uint32) {
	if slot == 0 || slot > k.n || k.isFree[slot] {
		return
	}
	delete(k.pending, slot)
	delete(k.erasing, slot)
	k.isFree[slot] = true
	k.free = append(k.free, slot)
}

// used returns the slots holding a key that are not pending, with their
// generation.
func (k *keyring) used() map[uint32]uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[uint32]uint64{}
	for s := uint32(1); s <= k.n; s++ {
		if !k.isFree[s] && !k.pending[s] && !k.erasing[s] {
			out[s] = k.gen[s]
		}
	}
	return out
}

// eraseUnchanged erases the slots whose generation is still the one given.
func (k *keyring) eraseUnchanged(slots map[uint32]uint64) (int, error) {
	k.mu.Lock()
	var stale []uint32
	for s, g := range slots {
		if k.gen[s] == g && !k.pending[s] && !k.isFree[s] && !k.erasing[s] {
			stale = append(stale, s)
		}
	}
	k.mu.Unlock()
	// A slot cannot be reallocated before it is freed, which only erase
	// does, so releasing the lock here is safe.
	return len(stale), k.erase(stale...)
}

func (k *keyring) writeLocked(slot uint32, key [slotSize]byte) error {
	if k.f == nil {
		for uint32(len(k.mem)) < slot {
			k.mem = append(k.mem, [slotSize]byte{})
		}
		k.mem[slot-1] = key
		return nil
	}
	if _, err := k.f.WriteAt(key[:], int64(slot-1)*slotSize); err != nil {
		return fmt.Errorf("store: write key slot: %w", err)
	}
	return nil
}

// seal encrypts plain with key (AES-256-GCM), binding it to aad.
func seal(key, plain, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("store: sealed data too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("store: open sealed data: %w", err)
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// loadIndexKey reads, or creates, the key of the recipient index: numbers
// are found by HMAC-SHA256 under this key, so the index never holds them.
func loadIndexKey(dir string) ([]byte, error) {
	if dir == "" {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	}
	path := filepath.Join(dir, indexFile)
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err == nil {
		return nil, fmt.Errorf("store: %s is not a 32-byte key", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: read index key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := writeFileSync(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("store: write index key: %w", err)
	}
	return key, nil
}

func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// hashLen is the length of a recipient hash in keys.
const hashLen = 16

// recipientHash is the keyed hash the indexes use instead of a number.
func (s *Store) recipientHash(e164 string) []byte {
	m := hmac.New(sha256.New, s.indexKey)
	m.Write([]byte("recipient\x00"))
	m.Write([]byte(e164))
	return m.Sum(nil)[:hashLen]
}

// ReadEncryptionKey reads the at-rest encryption key from path: 16, 24 or
// 32 raw bytes, or the same written in hex (a trailing newline is
// ignored). An empty path means no encryption and returns nil.
func ReadEncryptionKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: read encryption key: %w", err)
	}
	trimmed := bytes.TrimSpace(data)
	if dec, err := hex.DecodeString(string(trimmed)); err == nil && validAESKey(len(dec)) {
		return dec, nil
	}
	if validAESKey(len(data)) {
		return data, nil
	}
	return nil, fmt.Errorf("store: encryption key %s must hold 16, 24 or 32 bytes, raw or in hex", path)
}

func validAESKey(n int) bool { return n == 16 || n == 24 || n == 32 }
