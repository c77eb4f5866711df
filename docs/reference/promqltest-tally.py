import re, glob, os, sys, json
patEvalInstant = re.compile(r'^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$')
patEvalRange = re.compile(r'^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$')
def getlines(s):
    out=[]
    for l in s.split('\n'):
        l=l.strip()
        if l.startswith('#'): l=''
        out.append(l)
    return out
def metric_name(line):
    m=re.match(r'^([A-Za-z_:][A-Za-z0-9_:]*)',line)
    if m: return m.group(1)
    m=re.search(r'__name__="([^"]+)"',line)
    return m.group(1) if m else None
def isnum(s):
    try:
        int(s,0); return True
    except: pass
    try:
        float(s); return True
    except: return False
res={}
stats={'stale_expected':[], 'scalar_in_range':[], 'hint_expected':0,'expect_rv':0,'multi_value_instant':0,'empty_expect':0,'scalar_expect':0,'string_expect':0}
for fn in sorted(glob.glob('/work/shared/conformance/promql/*.test')):
    name=os.path.basename(fn)[:-5]
    lines=getlines(open(fn).read())
    storage_nh=False; nh_names=set()
    r=dict(instant=0,range=0,nh_broad=0,nh_narrow=0,fail=0,ordered=0,nh_exp=0,nh_inst=0,nh_range=0)
    i=0
    while i<len(lines):
        l=lines[i]
        if not l: i+=1; continue
        c=re.split(r'[\t ]+',l,1)[0].lower()
        if c=='clear':
            storage_nh=False; nh_names=set(); i+=1; continue
        if c.startswith('load'):
            nhcb = l.startswith('load_with_nhcb')
            i+=1
            while i<len(lines) and lines[i]:
                d=lines[i]
                if '{{' in d or nhcb:
                    storage_nh=True
                    n=metric_name(d)
                    if n:
                        if nhcb:
                            for suf in ('_bucket','_sum','_count'):
                                if n.endswith(suf): nh_names.add(n[:-len(suf)])
                        else: nh_names.add(n)
                i+=1
            continue
        if c.startswith('eval'):
            mi=patEvalInstant.match(l); mr=patEvalRange.match(l)
            kind='instant' if mi else 'range'
            expr = mi.group(3) if mi else mr.group(5)
            mod = (mi or mr).group(1)
            r[kind]+=1
            exp_nh=False; block=[]; i+=1
            nvals=0
            while i<len(lines) and lines[i]:
                d=lines[i]; block.append(d)
                if d.startswith('expect') or d.startswith('expected_fail'):
                    if d.startswith('expect range vector'): stats['expect_rv']+=1
                    if d.startswith('expect string'): stats['string_expect']+=1
                    if d.startswith('expect fail') : r['fail']+=1
                    if d.startswith('expect ordered'): r['ordered']+=1
                    i+=1; continue
                if isnum(d):
                    stats['scalar_expect']+=1
                    if kind=='range': stats['scalar_in_range'].append((name,l))
                    i+=1; break
                if '{{' in d: exp_nh=True
                if 'counter_reset_hint' in d: stats['hint_expected']+=1
                if re.search(r'\bstale\b', d.split('}')[-1] if '}' in d else d): stats['stale_expected'].append((name,d))
                i+=1
            if mod=='fail': r['fail']+=1
            if mod=='ordered': r['ordered']+=1
            if not [b for b in block if not b.startswith('expect')]: stats['empty_expect']+=1
            if exp_nh: r['nh_exp']+=1
            if storage_nh or exp_nh:
                r['nh_broad']+=1; r['nh_'+('inst' if kind=='instant' else 'range')]+=1
            words=set(re.findall(r'[A-Za-z_:][A-Za-z0-9_:]*',expr))
            if exp_nh or (words & nh_names): r['nh_narrow']+=1
            continue
        print('UNKNOWN', name, l); i+=1
    res[name]=r
tot={k:0 for k in ['instant','range','nh_broad','nh_narrow','fail','ordered','nh_exp','nh_inst','nh_range']}
print(f"| {'file':22} | {'instant':>7} | {'range':>5} | {'total':>5} | {'NH':>4} | {'NH inst':>7} | {'NH range':>8} | {'exp {{':>6} | {'NH narrow':>9} |")
for n,r in res.items():
    for k in tot: tot[k]+=r[k]
    print(f"| {n:22} | {r['instant']:7} | {r['range']:5} | {r['instant']+r['range']:5} | {r['nh_broad']:4} | {r['nh_inst']:7} | {r['nh_range']:8} | {r['nh_exp']:6} | {r['nh_narrow']:9} |")
print(f"| {'TOTAL':22} | {tot['instant']:7} | {tot['range']:5} | {tot['instant']+tot['range']:5} | {tot['nh_broad']:4} | {tot['nh_inst']:7} | {tot['nh_range']:8} | {tot['nh_exp']:6} | {tot['nh_narrow']:9} |")
print({k:(v if not isinstance(v,list) else (len(v), v[:8])) for k,v in stats.items()})
