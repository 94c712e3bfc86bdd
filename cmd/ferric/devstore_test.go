package main

import "testing"

func TestChoosePersistence(t *testing.T) {
	for _, tc := range []struct {
		asked                  string
		hasSQLite, hasPostgres bool
		want                   string
		refused                bool
	}{
		{asked: "", want: defaultTemporalPersistence},
		{asked: "", hasSQLite: true, want: persistenceSQLite},
		{asked: "", hasPostgres: true, want: persistencePostgres},
		{asked: "", hasSQLite: true, hasPostgres: true, want: persistenceSQLite},
		{asked: persistenceSQLite, want: persistenceSQLite},
		{asked: persistencePostgres, want: persistencePostgres},
		{asked: persistenceSQLite, hasSQLite: true, want: persistenceSQLite},
		{asked: persistencePostgres, hasPostgres: true, want: persistencePostgres},
		{asked: persistenceSQLite, hasPostgres: true, refused: true},
		{asked: persistencePostgres, hasSQLite: true, refused: true},
		{asked: persistenceSQLite, hasSQLite: true, hasPostgres: true, want: persistenceSQLite},
		{asked: persistencePostgres, hasSQLite: true, hasPostgres: true, want: persistencePostgres},
	} {
		got, err := choosePersistence(tc.asked, tc.hasSQLite, tc.hasPostgres)
		if tc.refused {
			if err == nil {
				t.Errorf("asked %q, sqlite %v, postgres %v: %q, want a refusal", tc.asked, tc.hasSQLite, tc.hasPostgres, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("asked %q, sqlite %v, postgres %v: %q, %v; want %q", tc.asked, tc.hasSQLite, tc.hasPostgres, got, err, tc.want)
		}
	}
}
