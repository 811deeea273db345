// What command text can say about an attack, as data: each pattern names a rule and why it matched.
// One pass per distinct text (results are cached by the collector), over the text and its decoded layers.
import { decodeLayers, hasEncodedCommand, type Decoded } from './decode.js';
import { findSecrets, type SecretHit } from './secrets.js';

export interface TextHit {
  rule: string;
  /** Short reason shown in the summary (`DownloadString`, `TrustedHosts = *`). */
  why: string;
  /** Escalates the default severity (TrustedHosts `*`, a public firewall profile). */
  strong?: boolean;
}

export interface TextAnalysis {
  hits: TextHit[];
  secrets: SecretHit[];
  decoded?: Decoded;
  /** Text uses a remoting cmdlet or winrs against another computer (the source side of a session). */
  remoting: boolean;
}

const REMOTING_CALL = /\b(?:Invoke-Command|icm|Enter-PSSession|etsn|New-PSSession|nsn|New-CimSession|Invoke-WSManAction|New-WSManInstance)\b[^\r\n]*-(?:ComputerName|Cn|Session|ConnectionUri)\b|\bwinrs(?:\.exe)?\b[^\r\n]*\s[-/]r(?:emote)?:/i;

interface Pattern { rule: string; re: RegExp; why: string; strong?: RegExp }

// Defense evasion and delivery, looked for in the text and every decoded layer.
const PAYLOAD: Pattern[] = [
  { rule: 'command.download-cradle', re: /\b(?:Net\.WebClient|DownloadString|DownloadData|DownloadFile|OpenRead)\b|\b(?:Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer)\b|\biwr\s+['"]?https?:|\bbitsadmin\b[^\r\n]*\/transfer|\bcertutil\b[^\r\n]*-urlcache|Net\.Http\.HttpClient|Msxml2\.XMLHTTP|WinHttp\.WinHttpRequest/i, why: 'download cradle' },
  { rule: 'command.amsi-bypass', re: /amsiInitFailed|AmsiUtils|amsiContext|AmsiScanBuffer|amsiSession|\bamsi\.dll\b/i, why: 'AMSI bypass' },
  { rule: 'command.logging-bypass', re: /EnableScriptBlockLogging|ScriptBlockLogging|EnableScriptBlockInvocationLogging|cachedGroupPolicySettings|EnableModuleLogging|Remove-EtwTraceProvider|EtwEventProvider|PSEtwLogProvider/i, why: 'script-block / event logging turned off' },
  { rule: 'command.logging-bypass', re: /\bpowershell(?:\.exe)?["']?\s+(?:[^\r\n]*\s)?-v(?:e(?:r(?:s(?:i(?:o(?:n)?)?)?)?)?)?\s+2(?:\.0)?\b/i, why: 'PowerShell 2.0 downgrade (no script-block logging, no AMSI)' },
];

// WinRM configuration changes (Microsoft's WinRM security considerations), looked for in the text only.
const POSTURE: Pattern[] = [
  { rule: 'posture.basic-auth', re: /winrm(?:\.cmd)?\s+s(?:et)?\s+winrm\/config\/(?:service|client)\/auth\s+@\{[^}]*\bBasic\s*=\s*["']?true|WSMan:\\+localhost\\(?:Service|Client)\\Auth\\Basic\b[^;\r\n]*(?:\$true|\btrue\b|\b1\b)|-Authentication\s+["']?Basic\b/i, why: 'Basic authentication enabled or used' },
  { rule: 'posture.unencrypted', re: /AllowUnencrypted\s*=\s*["']?true|WSMan:\\+localhost\\(?:Service|Client)\\AllowUnencrypted\b[^;\r\n]*(?:\$true|\btrue\b|\b1\b)/i, why: 'unencrypted WinRM traffic allowed' },
  { rule: 'posture.credssp', re: /Enable-WSManCredSSP|-Authentication\s+["']?CredSSP\b|Auth\\CredSSP\b[^;\r\n]*(?:\$true|\btrue\b)|@\{[^}]*\bCredSSP\s*=\s*["']?true/i, why: 'CredSSP (credentials delegated to the second hop)' },
  { rule: 'posture.trustedhosts', re: /(?:Set-Item|winrm(?:\.cmd)?\s+s(?:et)?\b|Set-WSManInstance)[^;\r\n]*TrustedHosts|TrustedHosts[^;\r\n]*(?:-Value\b|=)/i, why: 'TrustedHosts changed', strong: /TrustedHosts[^;\r\n]*?(?:-Value\s+|=\s*|\s)["']\*["']|TrustedHosts[^;\r\n]*-Value\s+\*(?:\s|$)/i },
  { rule: 'posture.enable-remoting', re: /\bEnable-PSRemoting\b|\bSet-WSManQuickConfig\b|\bwinrm(?:\.cmd)?\s+(?:quickconfig|qc)\b/i, why: 'PowerShell remoting enabled', strong: /-SkipNetworkProfileCheck/i },
  { rule: 'posture.listener', re: /(?:New-WSManInstance|winrm(?:\.cmd)?\s+c(?:reate)?)\s[^\r\n]*winrm\/config\/Listener|New-Item\s[^\r\n]*WSMan:\\+localhost\\Listener/i, why: 'new WinRM listener' },
  { rule: 'posture.firewall', re: /\bnetsh(?:\.exe)?["']?\s+(?:advfirewall\s+firewall\s+(?:add|set)\s+rule|firewall\s+(?:add|set)\s+portopening)[^\r\n]*\b598[56]\b|\b(?:New-NetFirewallRule|Set-NetFirewallRule|Enable-NetFirewallRule)\b[^\r\n]*(?:\b598[56]\b|WINRM|Windows Remote Management)/i, why: 'firewall opened for WinRM (5985/5986)', strong: /profile[=\s:]+["']?(?:any|public|all)\b/i },
  { rule: 'posture.non-admin-access', re: /(?:Add-LocalGroupMember|Add-ADGroupMember|\bnet1?(?:\.exe)?["']?\s+localgroup)\s[^\r\n]*Remote Management Users|\b(?:Set|Register)-PSSessionConfiguration\b[^\r\n]*(?:SecurityDescriptorSddl|ShowSecurityDescriptorUI)|\bRootSDDL\b/i, why: 'remoting opened to non-administrators' },
];

// Obfuscation without an encoded payload: tokens broken by backticks, names glued from pieces, char codes.
function obfuscationReasons(t: string): string[] {
  const why: string[] = [];
  if ((t.match(/\w`\w/g) ?? []).length >= 6) why.push('backtick-escaped names');
  if ((t.match(/\[char\]\s*\d+/gi) ?? []).length >= 8) why.push('[char] codes');
  if ((t.match(/['"]\s*\+\s*['"]/g) ?? []).length >= 8) why.push('strings glued from pieces');
  if (/-join\s*\(?\s*['"]?\s*\[char/i.test(t) || /\[string\]::join\s*\(\s*['"]['"]\s*,/i.test(t)) why.push('-join of characters');
  if (/\{\d+\}\{\d+\}\{\d+\}[^'"]*['"]\s*-f\s*['"]/i.test(t)) why.push('-f format reordering');
  if (/-bxor\s*0x?[0-9a-f]+/i.test(t) && /\[char\]|\[byte\]/i.test(t)) why.push('XOR-decoded text');
  return why;
}

export function analyzeText(text: string): TextAnalysis {
  const hits: TextHit[] = [];
  const remoting = REMOTING_CALL.test(text);
  let decoded: Decoded | undefined;
  if (hasEncodedCommand(text) || /FromBase64String/i.test(text)) {
    decoded = decodeLayers(text);
    if (decoded.texts.length === 0) decoded = undefined;
  }
  if (decoded) hits.push({ rule: 'command.encoded', why: decoded.layers.join(' > ') });
  const layers = [text, ...(decoded?.texts ?? [])];
  const all = layers.join('\n');
  const obf = obfuscationReasons(all);
  if (obf.length > 0 && !hits.some((h) => h.rule === 'command.encoded')) hits.push({ rule: 'command.encoded', why: `obfuscated: ${obf.join(', ')}` });
  for (const p of PAYLOAD) {
    const m = p.re.exec(all);
    if (m && !hits.some((h) => h.rule === p.rule)) hits.push({ rule: p.rule, why: `${p.why} (${m[0].slice(0, 60).toLowerCase()})` });
  }
  for (const p of POSTURE) {
    const m = p.re.exec(text);
    if (m && !hits.some((h) => h.rule === p.rule)) hits.push({ rule: p.rule, why: p.why, strong: p.strong?.test(text) ?? false });
  }
  // Positions are per layer; the rules only need the kinds, masking re-finds them in each text.
  const secrets = layers.flatMap((l) => findSecrets(l));
  return { hits, secrets: secrets.slice(0, 16), decoded, remoting };
}
