package devtemporal

import "testing"

func TestPostgresSQLConfigs(t *testing.T) {
	p := Postgres{URL: "postgres://ferric:p%40ss:w@db.example:6543/ferric?sslmode=require&pool_max_conns=40&search_path=t1&options=-csearch_path%3Dt2",
		AsyncCommit: true}
	state, vis, err := p.sqlConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if state.DatabaseName != DefaultDatabase || vis.DatabaseName != DefaultVisibilityDatabase {
		t.Errorf("databases %q, %q; want the defaults", state.DatabaseName, vis.DatabaseName)
	}
	for _, c := range []struct{ name, got, want string }{
		{"plugin", state.PluginName, "postgres12_pgx"},
		{"address", state.ConnectAddr, "db.example:6543"},
		{"user", state.User, "ferric"},
		{"password", state.Password, "p@ss:w"},
		{"sslmode", state.ConnectAttributes["sslmode"], "require"},
		{"synchronous_commit", state.ConnectAttributes["synchronous_commit"], "off"},
		{"pool_max_conns", state.ConnectAttributes["pool_max_conns"], ""},
		{"search_path", state.ConnectAttributes["search_path"], ""},
		{"options", state.ConnectAttributes["options"], ""},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if state.MaxConns != defaultPostgresMaxConns || state.MaxIdleConns != state.MaxConns {
		t.Errorf("pool: max %d, idle %d; want %d for both", state.MaxConns, state.MaxIdleConns, defaultPostgresMaxConns)
	}

	p = Postgres{URL: "postgres://u@localhost", Database: "t", VisibilityDatabase: "v", MaxConns: 3}
	state, vis, err = p.sqlConfigs()
	if err != nil {
		t.Fatal(err)
	}
	if state.ConnectAddr != "localhost:5432" || state.DatabaseName != "t" || vis.DatabaseName != "v" ||
		state.MaxIdleConns != 3 || state.ConnectAttributes["synchronous_commit"] != "" {
		t.Errorf("second config: %+v", state)
	}
	for _, bad := range []string{"mysql://u@h/db", "postgres:///db", "::"} {
		if _, _, err := (Postgres{URL: bad}).sqlConfigs(); err == nil {
			t.Errorf("url %q: no error", bad)
		}
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"0.0", "1.19", true},
		{"1.9", "1.19", true},
		{"1.19", "1.19", false},
		{"1.20", "1.19", false},
		{"1.19", "1.19.1", true},
		{"2", "1.19", false},
	} {
		got, err := versionLess(tc.a, tc.b)
		if err != nil || got != tc.less {
			t.Errorf("versionLess(%q, %q) = %v, %v; want %v", tc.a, tc.b, got, err, tc.less)
		}
	}
	if _, err := versionLess("1.x", "1.19"); err == nil {
		t.Error("versionLess accepted 1.x")
	}
}
