package drivers

import (
	"errors"
	"fmt"
	"time"
)

// Class is the outcome class of a failed Send; it decides what the dispatcher
// does next.
type Class string

// Outcome classes.
const (
	// ClassTransient: nothing was sent; trying again later may work.
	ClassTransient Class = "transient"
	// ClassPermanent: nothing was sent and trying again will not help.
	ClassPermanent Class = "permanent"
	// ClassUncertain: the message may or may not have left; never resend blindly.
	ClassUncertain Class = "uncertain"
)

// Error is a classified driver failure. Code is a short stable reason such as
// "timeout" or "cms_38"; Detail is for people.
type Error struct {
	Class  Class
	Code   string
	Detail string
	// RetryAfter, when set on a transient error, is the earliest useful retry.
	RetryAfter time.Duration
	// SameDevice, on a transient error, asks that the retry go to this
	// device only: part of the message already left (a multipart SMS whose
	// later parts failed), and only this device can send the rest without
	// repeating what the recipient already has.
	SameDevice bool
	Err        error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Class, e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Transient returns an error of class transient.
func Transient(code, detail string, err error) *Error {
	return &Error{Class: ClassTransient, Code: code, Detail: detail, Err: err}
}

// Permanent returns an error of class permanent.
func Permanent(code, detail string, err error) *Error {
	return &Error{Class: ClassPermanent, Code: code, Detail: detail, Err: err}
}

// Uncertain returns an error of class uncertain.
func Uncertain(code, detail string, err error) *Error {
	return &Error{Class: ClassUncertain, Code: code, Detail: detail, Err: err}
}

// Classify reads the class of any error returned by Send. An error that is
// not an *Error is treated as uncertain: the dispatcher cannot prove that
// nothing left, so it must not resend blindly.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	return Uncertain("unclassified", "", err)
}
