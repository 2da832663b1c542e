package config

// driverType describes what the configuration knows about one driver type.
// Adding a driver type means adding one entry to driverTypes (and its
// fields to Driver).
type driverType struct {
	// name is the value of the driver's type key.
	name string
	// keys are the Driver yaml keys only this type accepts. Keys that no
	// type claims (name, type, pacing, concurrency) are common to all.
	keys []string
	// concurrency is the default number of sends in flight at once.
	concurrency int
	// paths returns the driver's file paths that Resolve makes absolute.
	paths func(d *Driver) []*string
	// defaults, when set, fills the type's unset options.
	defaults func(d *Driver)
	// validate, when set, reports the type's option problems (no I/O).
	validate func(v *validator, path string, d *Driver)
}

// driverTypes is the table of known driver types, in documentation order.
var driverTypes = []driverType{
	{
		name:        "sim",
		keys:        []string{"latency", "failures", "delivery_reports", "delivery_delay", "outbox"},
		concurrency: 4,
		paths:       func(d *Driver) []*string { return []*string{&d.Outbox} },
	},
	{
		name:     "smsservice",
		keys:     []string{"smsservice"},
		paths:    smsservicePaths,
		defaults: smsserviceDefaults,
		validate: smsserviceValidate,
	},
	{
		name:     "adb",
		keys:     []string{"adb", "smsservice"},
		paths:    adbPaths,
		defaults: adbDefaults,
		validate: adbValidate,
	},
	{
		name:     "modem",
		keys:     []string{"modem"},
		paths:    modemPaths,
		defaults: modemDefaults,
		validate: modemValidate,
	},
}

// defaultConcurrency is the concurrency of a driver whose type sets none.
const defaultConcurrency = 1

// KnownDriverTypes lists the accepted values of a driver's type key. It is
// derived from the driver type table and is informational: changing it
// does not change what Validate accepts.
var KnownDriverTypes = driverTypeNames(driverTypes)

func driverTypeNames(types []driverType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.name
	}
	return names
}

// lookupDriverType returns the table entry for name.
func lookupDriverType(types []driverType, name string) (driverType, bool) {
	for _, t := range types {
		if t.name == name {
			return t, true
		}
	}
	return driverType{}, false
}

// keyOwners returns the types that claim key; none means the key is common
// to every type.
func keyOwners(types []driverType, key string) []string {
	var owners []string
	for _, t := range types {
		for _, k := range t.keys {
			if k == key {
				owners = append(owners, t.name)
			}
		}
	}
	return owners
}
