/// Martin Porter's stemmer (1980), as his reference implementation has it
/// and SQLite's FTS5 `porter` tokenizer uses: `deployed`, `deploying` and
/// `deploys` all become `deploy`. It knows English only, so it touches only
/// words of ASCII lowercase letters, at most `longest` of them (longer is no
/// English word, and bounds the work); others pass unchanged.
enum PorterStemmer {
    /// Stems `w` (lowercase ASCII letters) in place.
    static let longest = 40

    static func stem(_ w: inout [UInt8]) {
        guard w.count > 2, w.count <= longest, w.allSatisfy({ $0 >= 97 && $0 <= 122 }) else { return }
        var s = Stem(w)
        s.step1ab()
        if s.k > 0 {
            s.step1c(); s.step2(); s.step3(); s.step4(); s.step5()
        }
        w = Array(s.b[0...s.k])
    }

    /// The reference implementation's state: the word `b[0...k]`, and `j`,
    /// where the stem before a matched suffix ends.
    private struct Stem {
        var b: [UInt8]
        var k: Int
        var j = 0

        init(_ word: [UInt8]) { b = word; k = word.count - 1 }

        /// A y after a consonant is a vowel, after a vowel a consonant, first a
        /// consonant: along a run of y's the answer alternates from the letter before it.
        func isConsonant(_ i: Int) -> Bool {
            var start = i
            while start >= 0, b[start] == 121 { start -= 1 }
            let before: Bool
            switch start < 0 ? 121 : b[start] {
            case 97, 101, 105, 111, 117: before = false  // a e i o u
            case 121: return i % 2 == 0  // y's from the first letter on: y at 0 is a consonant
            default: before = true
            }
            return (i - start) % 2 == 0 ? before : !before
        }

        /// m: the number of vowel-consonant sequences in b[0...j].
        func measure() -> Int {
            var n = 0, i = 0
            while true {
                if i > j { return n }
                if !isConsonant(i) { break }
                i += 1
            }
            i += 1
            while true {
                while true {
                    if i > j { return n }
                    if isConsonant(i) { break }
                    i += 1
                }
                i += 1
                n += 1
                while true {
                    if i > j { return n }
                    if !isConsonant(i) { break }
                    i += 1
                }
                i += 1
            }
        }

        /// b[0...j] holds a vowel.
        func vowelInStem() -> Bool { (0...max(j, 0)).contains { $0 <= j && !isConsonant($0) } }

        /// b[i-1...i] is a double consonant.
        func doubleConsonant(_ i: Int) -> Bool { i >= 1 && b[i] == b[i - 1] && isConsonant(i) }

        /// b[i-2...i] is consonant-vowel-consonant, the last not w, x or y (`hop`, not `snow`).
        func cvc(_ i: Int) -> Bool {
            guard i >= 2, isConsonant(i), !isConsonant(i - 1), isConsonant(i - 2) else { return false }
            return b[i] != 119 && b[i] != 120 && b[i] != 121
        }

        /// b[0...k] ends with `s`; sets j before it.
        mutating func ends(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard n <= k + 1 else { return false }
            let start = k - n + 1
            let matches = s.withUTF8Buffer { suffix in (0..<n).allSatisfy { b[start + $0] == suffix[$0] } }
            guard matches else { return false }
            j = k - n
            return true
        }

        /// Replaces b[j+1...k] with `s` (the word is b[0...k]: letters past k are left behind, not removed).
        mutating func setTo(_ s: StaticString) {
            b.removeSubrange((j + 1)...)
            s.withUTF8Buffer { b.append(contentsOf: $0) }
            k = b.count - 1
        }

        mutating func replace(_ s: StaticString) { if measure() > 0 { setTo(s) } }

        /// Plurals and -ed, -ing: caresses → caress, ponies → poni, meetings → meet, hopping → hop, filing → file.
        mutating func step1ab() {
            if b[k] == 115 {  // s
                if ends("sses") { k -= 2 }
                else if ends("ies") { setTo("i") }
                else if k >= 1, b[k - 1] != 115 { k -= 1 }
            }
            if ends("eed") {
                if measure() > 0 { k -= 1 }
            } else if (ends("ed") || ends("ing")) && vowelInStem() {
                k = j
                if ends("at") { setTo("ate") }
                else if ends("bl") { setTo("ble") }
                else if ends("iz") { setTo("ize") }
                else if doubleConsonant(k) {
                    let c = b[k]
                    if c != 108 && c != 115 && c != 122 { k -= 1 }  // not l, s, z
                } else {
                    j = k
                    if measure() == 1 && cvc(k) { setTo("e") }
                }
            }
        }

        /// A final y after a vowel-holding stem becomes i.
        mutating func step1c() {
            if ends("y") && vowelInStem() { b[k] = 105 }
        }

        /// Double suffixes to single ones: -ization → -ize, -ational → -ate …
        mutating func step2() {
            guard k >= 1 else { return }
            switch b[k - 1] {
            case 97: if ends("ational") { replace("ate") } else if ends("tional") { replace("tion") }
            case 99: if ends("enci") { replace("ence") } else if ends("anci") { replace("ance") }
            case 101: if ends("izer") { replace("ize") }
            case 108:
                if ends("bli") { replace("ble") } else if ends("alli") { replace("al") } else if ends("entli") { replace("ent") }
                else if ends("eli") { replace("e") } else if ends("ousli") { replace("ous") }
            case 111: if ends("ization") { replace("ize") } else if ends("ation") { replace("ate") } else if ends("ator") { replace("ate") }
            case 115:
                if ends("alism") { replace("al") } else if ends("iveness") { replace("ive") } else if ends("fulness") { replace("ful") }
                else if ends("ousness") { replace("ous") }
            case 116: if ends("aliti") { replace("al") } else if ends("iviti") { replace("ive") } else if ends("biliti") { replace("ble") }
            case 103: if ends("logi") { replace("log") }
            default: break
            }
        }

        /// -ic-, -full, -ness …
        mutating func step3() {
            switch b[k] {
            case 101: if ends("icate") { replace("ic") } else if ends("ative") { replace("") } else if ends("alize") { replace("al") }
            case 105: if ends("iciti") { replace("ic") }
            case 108: if ends("ical") { replace("ic") } else if ends("ful") { replace("") }
            case 115: if ends("ness") { replace("") }
            default: break
            }
        }

        /// -ant, -ence … in a longer stem (m > 1).
        mutating func step4() {
            guard k >= 1 else { return }
            let found: Bool
            switch b[k - 1] {
            case 97: found = ends("al")
            case 99: found = ends("ance") || ends("ence")
            case 101: found = ends("er")
            case 105: found = ends("ic")
            case 108: found = ends("able") || ends("ible")
            case 110: found = ends("ant") || ends("ement") || ends("ment") || ends("ent")
            case 111: found = (ends("ion") && j >= 0 && (b[j] == 115 || b[j] == 116)) || ends("ou")
            case 115: found = ends("ism")
            case 116: found = ends("ate") || ends("iti")
            case 117: found = ends("ous")
            case 118: found = ends("ive")
            case 122: found = ends("ize")
            default: found = false
            }
            if found && measure() > 1 { k = j }
        }

        /// A final -e in a longer stem, and -ll to -l (the measure still
        /// counting a removed e, as in the reference).
        mutating func step5() {
            j = k
            if b[k] == 101 {
                let m = measure()
                if m > 1 || (m == 1 && !cvc(k - 1)) { k -= 1 }
            }
            if b[k] == 108 && doubleConsonant(k) && measure() > 1 { k -= 1 }
        }
    }
}
