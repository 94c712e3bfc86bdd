#!/usr/bin/env python3
"""SQL work per verb: pg_stat_database deltas of ferric's and Temporal's databases over N operations of each verb.

usage: verb_sql.py ENDPOINT SUPERUSER_URL [N]
  ferric dev -data-dir /tmp/vc -power-sync-interval 0 -reconcile-interval 0 -api-address 127.0.0.1:45891 &
  verb_sql.py http://127.0.0.1:45891 "postgres://postgres@127.0.0.1:$(cat /tmp/vc/postgres/port)/postgres" 100
Creates N fake-hardware nodes, then for manage, provide, deploy, power off, power on and undeploy issues the verb on
every node, waits until all settle and prints commits and rows inserted/updated/deleted per operation.
"""
import json, subprocess, sys, time, urllib.request

EP = sys.argv[1]
PGURL = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 100
H={"Content-Type":"application/json","X-OpenStack-Ironic-API-Version":"1.82"}
def req(m,p,b=None):
    r=urllib.request.Request(EP+p,method=m,data=json.dumps(b).encode() if b is not None else None,headers=H)
    with urllib.request.urlopen(r) as f: return json.loads(f.read() or b"null")
def stats():
    q="select datname,xact_commit,tup_inserted,tup_updated,tup_deleted,tup_returned+tup_fetched from pg_stat_database where datname in ('ferric','temporal','temporal_visibility')"
    out=subprocess.run(["psql",PGURL,"-At","-F,","-c",q],capture_output=True,text=True,check=True).stdout
    return {l.split(",")[0]:list(map(int,l.split(",")[1:])) for l in out.split()}
def settle(pred):
    for _ in range(600):
        ns=req("GET","/v1/nodes?fields=uuid,provision_state,power_state,target_provision_state,target_power_state&limit=1000")["nodes"]
        if all(pred(n) for n in ns): return
        time.sleep(0.2)
    raise SystemExit("no settle")
uu=[]
for i in range(N):
    n=req("POST","/v1/nodes",{"driver":"fake-hardware","name":"vc-%d"%i})
    uu.append(n["uuid"])
time.sleep(2)
def verb(name,fn,pred):
    time.sleep(3); subprocess.run(["psql",PGURL,"-qc","select pg_stat_clear_snapshot()"],capture_output=True)
    b=stats(); 
    for u in uu: fn(u)
    settle(pred); time.sleep(6)
    a=stats()
    print("%-10s"%name, "  ".join("%s: commits %.1f ins %.1f upd %.1f del %.1f"%(db,(a[db][0]-b[db][0])/N,(a[db][1]-b[db][1])/N,(a[db][2]-b[db][2])/N,(a[db][3]-b[db][3])/N) for db in ["ferric","temporal","temporal_visibility"]))
prov=lambda t:(lambda u:req("PUT","/v1/nodes/%s/states/provision"%u,{"target":t}))
pw=lambda t:(lambda u:req("PUT","/v1/nodes/%s/states/power"%u,{"target":t}))
st=lambda s:(lambda n:n["provision_state"]==s and n["target_provision_state"] is None)
verb("manage",prov("manage"),st("manageable"))
verb("provide",prov("provide"),st("available"))
def dep(u):
    req("PATCH","/v1/nodes/%s"%u,[{"op":"add","path":"/instance_info/image_source","value":"http://x/i.qcow2"},{"op":"add","path":"/instance_info/image_checksum","value":"0"*32}])
    prov("active")(u)
verb("deploy",dep,st("active"))
verb("power off",pw("power off"),lambda n:n["power_state"]=="power off" and n["target_power_state"] is None)
verb("power on",pw("power on"),lambda n:n["power_state"]=="power on" and n["target_power_state"] is None)
verb("undeploy",prov("deleted"),st("available"))
